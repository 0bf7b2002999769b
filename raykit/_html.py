"""Renders raykit's HTML from the Jinja templates in ``raykit/templates``."""

from __future__ import annotations

import functools

import jinja2


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("raykit", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render(template: str, **context) -> str:
    """Render ``templates/<template>`` with ``context``; values are HTML-escaped."""
    return _environment().get_template(template).render(**context)
