"""A folium figure rendered to a page in one template pass.

branca renders each map element's template, wraps the text it gives in a new
``Element``, and renders that text *again* as a Jinja template when the page is put
together. The second pass is a hazard and a cost:

- text that came from the user (a grid's name, an officer's note) is template code in
  that pass: ``{{ 7*7 }}`` in a name shows as ``49``, and a crafted name could run
  Python on the server;
- every piece of text, megabytes of GeoJSON on a city map, is tokenised by Jinja once
  more, which took seconds per map.

:func:`render_figure` puts the page together from the finished text instead, and
:class:`TextParts` (mixed into the heavy layers, such as :class:`GeoJson`) hands over its
finished text without making a template of it at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement

__all__ = ["GeoJson", "Text", "TextParts", "render_figure"]


class Text(Element):
    """Finished HTML or JavaScript, put on the page as it is."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


class TextParts(MacroElement):
    """A map element whose ``header``, ``html`` and ``script`` macros are rendered once.

    The same as ``MacroElement.render``, except that the rendered text joins the figure
    as :class:`Text`, not as a template to compile and render again.
    """

    def render(self, **kwargs: Any) -> str:
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError(f"{type(self).__name__} can only be rendered inside a figure")
        macros = self._template.module.__dict__
        for part in ("header", "html", "script"):
            macro = macros.get(part)
            if macro is not None:
                text = self.finish(macro(self, kwargs))
                getattr(figure, part).add_child(Text(text), name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)
        return ""  # its text is on the figure

    def finish(self, text: str) -> str:
        """The rendered ``text`` of a part as it goes on the page (unchanged here)."""
        return text


#: How a geometry given as GeoJSON text stands in a feature until the page is written: an
#: object whose ``type`` names it (folium reads a feature's geometry type), JSON-encoded
#: as ``tojson`` writes it.
_PLACEHOLDER = re.compile(r'\{\s*"type"\s*:\s*"\\u0000geometry(\d+)\\u0000"\s*\}')


class GeoJson(folium.GeoJson, TextParts):
    """``folium.GeoJson`` whose features reach the page without a second template pass.

    Parameters
    ----------
    data
        A GeoJSON FeatureCollection (dict), as for ``folium.GeoJson``.
    geometries
        The features' geometries as GeoJSON text, one per feature (``None``: no
        geometry); they replace the features' own ``geometry``. Text made by
        ``shapely.to_geojson`` goes on the page as it is: a city's coordinates are never
        parsed into Python objects and written out again.
    **kwargs
        As for ``folium.GeoJson``.
    """

    def __init__(
        self,
        data: dict[str, Any],
        *,
        geometries: Sequence[str | None] | None = None,
        **kwargs: Any,
    ) -> None:
        self._geometries = list(geometries) if geometries is not None else None
        if self._geometries is not None:
            features = data["features"]
            if len(features) != len(self._geometries):
                raise ValueError(
                    f"'geometries' should hold one geometry per feature ({len(features)}), "
                    f"got {len(self._geometries)}"
                )
            data = {
                **data,
                "features": [
                    {**f, "geometry": None if g is None else {"type": f"\x00geometry{i}\x00"}}
                    for i, (f, g) in enumerate(zip(features, self._geometries, strict=True))
                ],
            }
        super().__init__(data, **kwargs)

    def finish(self, text: str) -> str:
        if not self._geometries:
            return text
        geometries = self._geometries
        return _PLACEHOLDER.sub(lambda m: str(geometries[int(m.group(1))]), text)


def render_figure(figure: Element) -> str:
    """The page of ``figure`` (a map's ``get_root()``): its elements rendered, then put
    together as text.

    Every piece of text an element added to the page's head, body or script is put
    there as it is: nothing in it is read as template code.
    """
    if not isinstance(figure, Figure):
        raise TypeError(f"'figure' should be a branca Figure, got {type(figure).__name__}")
    for child in figure._children.values():
        child.render()
    for part in (figure.header, figure.html, figure.script):
        for name, child in list(part._children.items()):
            # an Element made from text is the finished output of an element's template
            if type(child) is Element and child._template_str is not None:
                text = Text(child._template_str)
                text._parent = part
                part._children[name] = text
    return str(figure._template.render(this=figure, kwargs={}))
