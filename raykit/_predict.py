"""Predict, then observe: the learner commits to a guess before a cell measures the real figure."""

from __future__ import annotations

import html
import math
import numbers
import re
from dataclasses import dataclass
from typing import Any

from . import _progress
from .exceptions import ConfigError

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_last: Prediction | None = None


def _fmt(value: Any, unit: str | None) -> str:
    text = f"{value:.3g}" if isinstance(value, numbers.Real) else str(value)
    if not unit:
        return text
    return f"{text}{unit}" if unit in ("x", "%") else f"{text} {unit}"


def _number_in(choice: Any) -> float | None:
    """The one number a choice names (``4``, ``"4x"``, ``"about 2 s"``); None if not exactly one."""
    if isinstance(choice, numbers.Real) and not isinstance(choice, bool):
        return float(choice)
    found = _NUMBER.findall(str(choice))
    return float(found[0]) if len(found) == 1 else None


def _either(choices: tuple) -> str:
    return ", ".join(map(repr, choices[:-1])) + f" or {choices[-1]!r}"


def _choices_text(expected: Any) -> str:
    """ "choice was 'Ray'", or for a tie "choices were 'Dask' or 'Ray'"."""
    if isinstance(expected, tuple):
        return f"choices were {_either(expected)}"
    return f"choice was {expected!r}"


@dataclass
class Observation:
    """What was predicted beside what was measured, and the verdict printed for the learner."""

    predicted: Any
    measured: Any
    unit: str | None
    verdict: str
    expected_choice: Any = None
    relative_error: float | None = None

    def __str__(self) -> str:
        return self.verdict

    def __repr__(self) -> str:
        # Short: as a cell's last line, the verdict printed just above is not repeated.
        unit = f" {self.unit}" if self.unit else ""
        return f"Observation(predicted={self.predicted!r}, measured={self.measured!r}{unit})"


class Prediction:
    """A prediction the learner makes before a measurement; made by :func:`predict`.

    ``value`` is ``None`` until the learner picks an answer (in the widget, or ``answer=``).
    """

    def __init__(
        self, question: str, choices: list | None = None, key: str | None = None, unit=None
    ):
        self.question = question
        self.choices = list(choices) if choices is not None else None
        self.key = key or question
        self.unit = unit
        self.value: Any = None
        self.observation: Observation | None = None
        self._widget = None

    @property
    def made(self) -> bool:
        """True once the learner has committed to an answer."""
        return self.value is not None

    def __repr__(self) -> str:
        shown = "no prediction yet" if not self.made else f"predicted {self.value!r}"
        return f"Prediction({self.question!r}: {shown})"

    def commit(self, answer: Any) -> None:
        """Record ``answer`` as the prediction (what the widget's button and ``answer=`` do)."""
        self.value = self._parse(answer)
        _progress.record_prediction(
            self.key,
            {
                "question": self.question,
                "choices": self.choices,
                "prediction": self.value,
                "time": _progress.now(),
            },
        )

    def _parse_several(self, answers) -> Any:
        """Several choices that all count, as a tuple in the question's order; one alone as is."""
        if not answers:
            raise ConfigError("correct=[] names no choice: pass at least one of the choices.")
        parsed = {self._parse(answer, argument="correct") for answer in answers}
        ordered = tuple(choice for choice in self.choices if choice in parsed)
        return ordered[0] if len(ordered) == 1 else ordered

    def _parse(self, answer: Any, argument: str = "answer") -> Any:
        if self.choices is not None:
            for choice in self.choices:
                if answer == choice or str(answer) == str(choice):
                    return choice
            raise ConfigError(
                f"{argument}={answer!r} is not one of the choices {self.choices!r}: pass one of "
                "them."
            )
        try:
            value = float(answer)
        except (TypeError, ValueError):
            raise ConfigError(
                f"answer={answer!r} is not a number: this question takes a number, e.g. answer=4."
            ) from None
        if not math.isfinite(value):
            raise ConfigError(f"answer={answer!r} must be a finite number.")
        return value

    def observe(self, measured: Any, unit: str | None = None, correct: Any = None) -> Observation:
        """Print what was predicted beside what was measured, how close it was, and record it.

        Parameters
        ----------
        measured
            The figure the cell measured (a number), or for a multiple-choice question the
            measured outcome.
        unit
            Its unit, for printing (``"s"``, ``"x"``, ``"MB"``); the prediction's by default.
        correct
            For a multiple-choice question: the choice the measurement makes right, or a list of
            choices that all count (systems tied within the noise). By default the choice whose
            number is nearest to ``measured``, when every choice names one.

        Returns
        -------
        Observation
        """
        unit = unit if unit is not None else self.unit
        shown = _fmt(measured, unit)
        if self.choices is not None:
            if isinstance(correct, list | tuple | set | frozenset):
                expected = self._parse_several(correct)
            elif correct is not None:
                expected = self._parse(correct, argument="correct")
            else:
                expected = self._nearest_choice(measured)
        else:
            expected = None
        if not self.made:
            verdict = f"No prediction made. Measured: {shown}."
            if expected is not None:
                verdict += f" The right {_choices_text(expected)}."
            observation = Observation(None, measured, unit, verdict, expected)
        elif self.choices is not None:
            verdict = f"You predicted {self.value!r}; measured {shown}"
            if expected is None:
                verdict += "."
            elif expected == self.value:
                verdict += ": right."
            elif isinstance(expected, tuple) and self.value in expected:
                verdict += f": right ({_either(expected)} counts: a tie)."
            else:
                verdict += f", so the right {_choices_text(expected)}."
            observation = Observation(self.value, measured, unit, verdict, expected)
        else:
            observation = self._compare_numbers(measured, unit, shown)
        self.observation = observation
        print(observation.verdict)
        _progress.record_prediction(
            self.key,
            {
                "question": self.question,
                "prediction": self.value,
                "measured": measured if isinstance(measured, int | float | str) else str(measured),
                "unit": unit,
                "verdict": observation.verdict,
                "observed": _progress.now(),
            },
        )
        return observation

    def _compare_numbers(self, measured: Any, unit: str | None, shown: str) -> Observation:
        if not isinstance(measured, numbers.Real):
            raise ConfigError(f"measured={measured!r} must be a number for a number prediction.")
        predicted = self.value
        mine = _fmt(predicted, unit)
        error = abs(predicted - measured) / abs(measured) if measured else None
        if error is None:
            how = "exact" if predicted == measured else "the measurement is 0"
        elif error <= 0.1:
            how = f"within {error:.0%}, spot on"
        elif error <= 0.5:
            how = f"close: off by {error:.0%}"
        elif predicted and measured and (predicted > 0) == (measured > 0):
            factor = max(predicted / measured, measured / predicted)
            how = f"off by a factor of {factor:.1f}"
        else:
            how = f"off by {error:.0%}"
        verdict = f"You predicted {mine}; measured {shown}: {how}."
        return Observation(predicted, measured, unit, verdict, None, error)

    def _nearest_choice(self, measured: Any) -> Any:
        if not isinstance(measured, numbers.Real) or self.choices is None:
            return None
        numbers_in = [_number_in(c) for c in self.choices]
        if any(n is None for n in numbers_in):
            return None
        best = min(range(len(self.choices)), key=lambda i: abs(numbers_in[i] - measured))
        return self.choices[best]

    def _show(self) -> bool:
        """Display the widget; False when widgets cannot show here (no kernel, no ipywidgets)."""
        from ._exercise import _ipython

        shell = _ipython()
        if shell is None or getattr(shell, "kernel", None) is None:
            return False
        try:
            from IPython.display import display

            box = self.widget()
        except ImportError:
            return False
        display(box)
        return True

    def widget(self):
        """The question, the choices (or a number box) and a button that records the answer."""
        import ipywidgets as W

        title = W.HTML(f"<b>Predict:</b> {html.escape(self.question)}")
        if self.choices is not None:
            pick = W.RadioButtons(options=[str(c) for c in self.choices], value=None)
        else:
            unit = f" ({html.escape(self.unit)})" if self.unit else ""
            pick = W.Text(placeholder=f"a number{unit}")
        button = W.Button(description="Lock in my prediction", button_style="primary")
        status = W.Label("Pick an answer, lock it in, then run the next cells.")

        def lock_in(_button):
            raw = pick.value
            if raw in (None, ""):
                status.value = "Pick an answer first."
                return
            try:
                self.commit(raw)
            except ConfigError:
                status.value = "That is not a number: type one, e.g. 4 or 0.5."
                return
            pick.disabled = button.disabled = True
            status.value = f"Your prediction: {_fmt(self.value, self.unit)} (recorded)."

        button.on_click(lock_in)
        self._widget = W.VBox([title, pick, W.HBox([button, status])])
        return self._widget


def predict(
    question: str,
    choices: list | None = None,
    *,
    answer: Any = None,
    key: str | None = None,
    unit: str | None = None,
) -> Prediction:
    """Ask the learner to predict a figure before a cell measures it.

    Shows a multiple-choice widget (``choices``) or a number box, with a button that records the
    prediction in the progress file. Where widgets cannot show (a terminal, no ipywidgets), it
    prints the question: pass ``answer=`` to predict in code. Later,
    ``prediction.observe(measured)`` prints the prediction beside the measurement. Under
    papermill nobody answers, and ``observe`` says no prediction was made.

    Parameters
    ----------
    question
        What to predict, e.g. ``"How many times faster are 4 tasks than a loop?"``.
    choices
        The options of a multiple-choice question; ``None`` asks for a number.
    answer
        The prediction, given in code instead of the widget (one of ``choices``, or a number).
    key
        Where the progress file records it, e.g. ``"01.speedup"``; the question by default.
    unit
        The unit of the figure, for printing (``"s"``, ``"x"``).

    Returns
    -------
    Prediction
    """
    global _last
    if not isinstance(question, str) or not question.strip():
        raise ConfigError("question must be a non-empty string: what should the learner predict?")
    if choices is not None and (isinstance(choices, str) or len(list(choices)) < 2):
        raise ConfigError(
            f"choices={choices!r} must be a list of at least two options, or None for a number."
        )
    prediction = Prediction(question, choices, key, unit)
    _last = prediction
    if answer is not None:
        prediction.commit(answer)
        print(f"Predict: {question}\nYour prediction: {_fmt(prediction.value, unit)} (recorded).")
    elif not prediction._show():
        lines = [f"Predict: {question}"]
        if choices is not None:
            lines += [f"  {i}. {c}" for i, c in enumerate(prediction.choices, 1)]
            example = repr(prediction.choices[0])
        else:
            example = "4"
        lines.append(f"Record a prediction with raykit.predict(..., answer={example}).")
        print("\n".join(lines))
    return prediction


def observe(
    measured: Any,
    unit: str | None = None,
    *,
    prediction: Prediction | None = None,
    correct: Any = None,
) -> Observation:
    """Compare ``measured`` with the last prediction made (or ``prediction``); see
    :meth:`Prediction.observe`. With no prediction at all it says so and carries on."""
    if prediction is not None and not isinstance(prediction, Prediction):
        raise ConfigError(
            f"prediction={prediction!r} is not a Prediction: pass what raykit.predict(...) "
            "returned, or leave it out to use the last one."
        )
    prediction = prediction or _last
    if prediction is None:
        verdict = f"No prediction made. Measured: {_fmt(measured, unit)}."
        print(verdict)
        return Observation(None, measured, unit, verdict)
    return prediction.observe(measured, unit=unit, correct=correct)
