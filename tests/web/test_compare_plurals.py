"""The `plural` template filter: one rule for "1 version" / "2 versions" on every page."""

from ganstudio.web.templating import Pages, plural


def test_plural_counts_with_the_right_noun() -> None:
    assert plural(1, "version") == "1 version"
    assert plural(0, "version") == "0 versions"
    assert plural(2, "sample") == "2 samples"
    assert plural(1, "reply", "replies") == "1 reply"
    assert plural(3, "reply", "replies") == "3 replies"


def test_plural_is_a_template_filter() -> None:
    env = Pages(demo=False).templates.env
    rendered = env.from_string("{{ 1|plural('blind vote') }}, {{ n|plural('row') }}").render(n=5)
    assert rendered == "1 blind vote, 5 rows"
