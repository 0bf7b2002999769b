"""Static HTML of what an ipywidget showed at the end of a run, from a notebook's widget state.

A notebook executed with nbclient keeps each widget's final state in its metadata. Rendering that
state live needs JupyterLab's widget manager in the browser (JavaScript from a CDN); the site is
built offline and must show the widgets offline too, so each widget output is drawn here, once,
as plain HTML: boxes, labels, HTML, progress bars, buttons, radio buttons and text fields (every
model the kit's widgets use). A model of another kind falls back to the output's text.
"""

from __future__ import annotations

import html
from typing import Any

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PREFIX = "IPY_MODEL_"


class _Unknown(Exception):
    """A model this renderer does not draw."""


def widget_states(nb) -> dict[str, dict]:
    """``{model_id: {"model_name": ..., "state": {...}}}`` saved in the notebook's metadata."""
    saved = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {})
    return saved.get("state", {})


def render(model_id: str, states: dict[str, dict]) -> str | None:
    """The widget ``model_id`` as static HTML, or None when its state (or a child's) is missing
    or of a kind not drawn here."""
    try:
        return f'<div class="raykit-widget">{_render(model_id, states)}</div>'
    except _Unknown:
        return None


def snapshot_outputs(nb) -> int:
    """Give every widget output of ``nb`` a ``text/html`` snapshot in place of the live view;
    drop the saved widget state. Return how many outputs were drawn."""
    states = widget_states(nb)
    drawn = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if not view:
                continue
            snapshot = render(view.get("model_id", ""), states)
            del out["data"][WIDGET_VIEW]
            if snapshot is not None:
                out["data"]["text/html"] = snapshot
                drawn += 1
    nb.metadata.pop("widgets", None)
    return drawn


def _render(model_id: str, states: dict[str, dict]) -> str:
    model = states.get(model_id.removeprefix(PREFIX))
    if model is None:
        raise _Unknown(model_id)
    name, state = model.get("model_name", ""), model.get("state", {})
    if _hidden(state, states):
        return ""
    draw = _DRAW.get(name)
    if draw is None:
        raise _Unknown(name)
    classes = " ".join(html.escape(c) for c in state.get("_dom_classes", []))
    return draw(state, states, classes)


def _hidden(state: dict, states: dict) -> bool:
    layout = states.get(str(state.get("layout", "")).removeprefix(PREFIX), {}).get("state", {})
    return layout.get("display") == "none" or layout.get("visibility") == "hidden"


def _description(state: dict) -> str:
    text = state.get("description") or ""
    return f'<span class="rw-description">{html.escape(text)}</span>' if text else ""


def _box(direction: str):
    def draw(state: dict, states: dict, classes: str) -> str:
        children = "".join(_render(child, states) for child in state.get("children", []))
        return f'<div class="rw-box rw-{direction} {classes}">{children}</div>'

    return draw


def _html(state: dict, states: dict, classes: str) -> str:
    # The value is HTML the kit itself rendered during the run: shown as it was.
    return f'<div class="rw-html {classes}">{_description(state)}{state.get("value", "")}</div>'


def _label(state: dict, states: dict, classes: str) -> str:
    return f'<span class="rw-label {classes}">{html.escape(str(state.get("value", "")))}</span>'


def _progress(state: dict, states: dict, classes: str) -> str:
    low, high = float(state.get("min", 0.0)), float(state.get("max", 100.0))
    value = float(state.get("value", 0.0))
    share = 0.0 if high <= low else min(1.0, max(0.0, (value - low) / (high - low)))
    style = html.escape(state.get("bar_style") or "info")
    return (
        f'<div class="rw-progress-row {classes}">{_description(state)}'
        f'<div class="rw-progress" role="progressbar" aria-valuenow="{value:g}" '
        f'aria-valuemin="{low:g}" aria-valuemax="{high:g}">'
        f'<div class="rw-bar rw-bar-{style}" style="width: {100 * share:.1f}%"></div></div></div>'
    )


def _button(state: dict, states: dict, classes: str) -> str:
    style = html.escape(state.get("button_style") or "default")
    return (
        f'<button class="rw-button rw-button-{style} {classes}" disabled>'
        f"{html.escape(state.get('description') or '')}</button>"
    )


def _radio(state: dict, states: dict, classes: str) -> str:
    labels = state.get("_options_labels", [])
    chosen = state.get("index")
    items = "".join(
        f'<label class="rw-radio-option"><input type="radio" disabled'
        f"{' checked' if i == chosen else ''}> {html.escape(str(label))}</label>"
        for i, label in enumerate(labels)
    )
    return f'<div class="rw-radio {classes}">{_description(state)}{items}</div>'


def _text(state: dict, states: dict, classes: str) -> str:
    value = html.escape(str(state.get("value") or ""))
    placeholder = html.escape(str(state.get("placeholder") or ""))
    return (
        f'<span class="rw-text {classes}">{_description(state)}'
        f'<input type="text" disabled value="{value}" placeholder="{placeholder}"></span>'
    )


_DRAW: dict[str, Any] = {
    "HBoxModel": _box("hbox"),
    "VBoxModel": _box("vbox"),
    "BoxModel": _box("vbox"),
    "HTMLModel": _html,
    "LabelModel": _label,
    "FloatProgressModel": _progress,
    "IntProgressModel": _progress,
    "ButtonModel": _button,
    "RadioButtonsModel": _radio,
    "TextModel": _text,
}
