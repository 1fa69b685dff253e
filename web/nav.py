"""The navigation bar: the pages each role may open, in display order."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g

from layers.i18n import LazyString, _l

ALL_ROLES: tuple[str, ...] = ("admin", "captain", "officer")
CAPTAINS: tuple[str, ...] = ("admin", "captain")
ADMINS: tuple[str, ...] = ("admin",)


@dataclass(frozen=True)
class NavItem:
    """One link of the navigation bar: Flask endpoint, label (in the reader's language)
    and the roles that see it."""

    endpoint: str
    label: LazyString
    roles: tuple[str, ...]


#: The pages, in the order of the bar. Views enforce the same roles with ``roles_required``.
NAV_ITEMS: tuple[NavItem, ...] = (
    NavItem("maps.overview", _l("Overview"), ALL_ROLES),
    NavItem("maps.grids", _l("Grids"), ALL_ROLES),
    NavItem("hotspots.index", _l("Hotspots"), CAPTAINS),
    NavItem("coverage.index", _l("Coverage"), CAPTAINS),
    NavItem("plans.index", _l("Plans"), ALL_ROLES),
    NavItem("exports.index", _l("Exports"), ALL_ROLES),
    NavItem("categories.index", _l("Categories"), CAPTAINS),
    NavItem("layers.index", _l("Layers"), ADMINS),
    NavItem("admin.users", _l("Users"), ADMINS),
)


def nav_items() -> list[NavItem]:
    """The links the logged-in user may follow (none when logged out)."""
    user = g.get("user")
    if user is None:
        return []
    return [item for item in NAV_ITEMS if user.role in item.roles]


def init_app(app: Flask) -> None:
    """Expose :func:`nav_items` and the ``label`` filter (:mod:`web.labels`) to the
    templates."""
    from web import labels

    app.jinja_env.globals["nav_items"] = nav_items
    labels.init_app(app)
