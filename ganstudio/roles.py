"""Roles and what each may do; every permission check in GAN Studio goes through `Role.allows`."""

from enum import StrEnum


class Role(StrEnum):
    """A user's role; each role may do everything the roles before it may."""

    VIEWER = "viewer"  # browse, compare, web test, comment, vote
    QA = "qa"  # + samples and sample sets
    DEVELOPER = "developer"  # + filters and versions
    ADMIN = "admin"  # + users

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, required: "Role") -> bool:
        """Return whether this role may do what `required` may."""
        return self.rank >= required.rank

    @property
    def summary(self) -> str:
        return ROLE_SUMMARIES[self]


ROLE_SUMMARIES = {  # each finishes the home page's sentence "you may …"
    Role.VIEWER: "browse, compare, web test, comment and vote",
    Role.QA: "do everything a viewer may, and manage samples and sample sets",
    Role.DEVELOPER: "do everything QA may, and manage filters and versions",
    Role.ADMIN: "do everything, and manage users",
}
