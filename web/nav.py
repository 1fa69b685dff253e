"""The navigation bar: the pages each role may open, in display order."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g

ALL_ROLES: tuple[str, ...] = ("admin", "captain", "officer")
CAPTAINS: tuple[str, ...] = ("admin", "captain")
ADMINS: tuple[str, ...] = ("admin",)


@dataclass(frozen=True)
class NavItem:
    """One link of the navigation bar: Flask endpoint, label and the roles that see it."""

    endpoint: str
    label: str
    roles: tuple[str, ...]


#: The pages, in the order of the bar. Views enforce the same roles with ``roles_required``.
NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem("maps.overview", "Overview", ALL_ROLES),
    NavItem("maps.grids", "Grids (网格)", ALL_ROLES),
    NavItem("hotspots.index", "Hotspots (热点)", CAPTAINS),
    NavItem("coverage.index", "Coverage (快反圈)", CAPTAINS),
    NavItem("plans.index", "Plans (巡逻)", ALL_ROLES),
    NavItem("exports.index", "Exports", ALL_ROLES),
    NavItem("categories.index", "Categories (警情类别)", CAPTAINS),
    NavItem("layers.index", "Layers", ADMINS),
    NavItem("admin.users", "Users", ADMINS),
)


def nav_items() -> list[NavItem]:
    """The links the logged-in user may follow (none when logged out)."""
    user = g.get("user")
    if user is None:
        return []
    return [item for item in NAV_ITEMS if user.role in item.roles]


def init_app(app: Flask) -> None:
    """Expose :func:`nav_items` to the templates."""
    app.jinja_env.globals["nav_items"] = nav_items
