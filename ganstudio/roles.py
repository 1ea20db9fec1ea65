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


ROLE_SUMMARIES = {
    Role.VIEWER: "browse, compare, web test, comment and vote",
    Role.QA: "everything a viewer may, plus samples and sample sets",
    Role.DEVELOPER: "everything QA may, plus filters and versions",
    Role.ADMIN: "everything, plus managing users",
}
