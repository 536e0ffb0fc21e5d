"""DiagdCallback: a Hugging Face `TrainerCallback` that records the run's
milestones (train begin/end, each epoch, evaluation, checkpoint saves) as recent
actions and, while training, adds the scrubbed training arguments, global step
and epoch to every error the process reports — uncaught ones included — and
classifies them as TRAINING unless something more specific matches. It also
feeds the heartbeats (heartbeat.py): the global step and epoch at each step's
end, the logged loss (grad_norm, learning_rate, eval_loss), and the phase —
training, evaluating (from the step whose evaluation Trainer has decided on, and
each prediction step), saving (likewise, before a checkpoint is written).

    import diagd_client
    from diagd_client.integrations.transformers import DiagdCallback
    diagd_client.init("diagd.example:50051", run_id="llama-ft-42")
    trainer = Trainer(model=model, args=args, train_dataset=ds, callbacks=[DiagdCallback()])
    trainer.train()
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, Optional, TypeVar

from transformers import TrainerCallback  # noqa: F401 - the import is the dependency check

import diagd_client
from diagd_client.classify import enter_process_phase, leave_process_phase, phase
from diagd_client.convert import to_json_value
from diagd_client.reporter import Reporter
from diagd_client.scrub import redact
from diagd_client.types import Severity


F = TypeVar("F", bound=Callable[..., Any])

# Trainer's log entries sent with the heartbeats as metrics, when numbers.
HEARTBEAT_METRICS = ("loss", "grad_norm", "learning_rate", "eval_loss")


def _never_raises(method: F) -> F:
    """A callback hook that can never raise inside Trainer: a failure of the
    callback itself is written to stderr and training goes on."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception:
            Reporter._warn(f"DiagdCallback.{method.__name__} failed (training goes on)")
            return None

    return guarded  # type: ignore[return-value]


def _json(value: Any) -> Any:
    """`value` made JSON-safe, whatever it is (never raises)."""
    try:
        return to_json_value(value)
    except Exception:
        return "<unserializable>"


def _training_arguments(args: Any) -> Dict[str, Any]:
    """TrainingArguments as a scrubbed JSON-safe dict (hub_token and the like redacted)."""
    if args is None:
        return {}
    try:
        raw = args.to_dict() if hasattr(args, "to_dict") else dict(vars(args))
    except Exception:
        raw = {}
    try:
        scrubbed = redact(_json(raw))
        return scrubbed if isinstance(scrubbed, dict) else {}
    except Exception:
        return {}


class DiagdCallback(TrainerCallback):
    """Records Trainer milestones in diagd_client's breadcrumbs and gives errors the
    training state as context. Uses the Reporter of `diagd_client.init()` unless one
    is passed."""

    def __init__(self, reporter: Optional[Reporter] = None):
        self._reporter = reporter
        self._args: Dict[str, Any] = {}
        self._state: Any = None
        self._training = False

    @property
    def reporter(self) -> Optional[Reporter]:
        return self._reporter or diagd_client.get_reporter()

    def training_context(self) -> Dict[str, Any]:
        """What every error carries while training runs."""
        state = self._state
        context = {"training_arguments": self._args}
        for name in ("global_step", "epoch", "max_steps"):
            try:
                context[name] = _json(getattr(state, name, None))
            except Exception:
                context[name] = None
        return context

    def _record(self, action: str, details: Optional[Dict[str, Any]] = None) -> None:
        reporter = self.reporter
        if reporter is not None:
            reporter.record_action(action, details)

    def _progress(self, state: Any) -> Dict[str, Any]:
        return {"global_step": _json(getattr(state, "global_step", None)), "epoch": _json(getattr(state, "epoch", None))}

    # -- heartbeats ---------------------------------------------------------

    def _set_step(self, state: Any, **metrics: float) -> None:
        reporter = self.reporter
        step = getattr(state, "global_step", None)
        if reporter is not None and step is not None:
            reporter.set_step(step, getattr(state, "epoch", None), **metrics)

    def _set_phase(self, phase: str) -> None:
        reporter = self.reporter
        if reporter is not None:
            reporter.set_phase(phase)

    def _phase_after(self, control: Any) -> None:
        """At a step's (or epoch's) end Trainer has decided what comes next (the
        flow callback before this one set `control`): evaluating, saving, or the
        next training step."""
        if getattr(control, "should_evaluate", False):
            self._set_phase("evaluating")
        elif getattr(control, "should_save", False):
            self._set_phase("saving")
        else:
            self._set_phase("training")

    @_never_raises
    def on_train_begin(self, args, state, control, **kwargs):
        self._args = _training_arguments(args)
        self._state = state
        reporter = self.reporter
        if reporter is not None and not self._training:
            reporter.add_context_provider(self.training_context)
        self._training = True
        enter_process_phase("training")
        self._set_phase("training")
        self._record(
            "train_begin",
            {
                "max_steps": getattr(state, "max_steps", None),
                "num_train_epochs": getattr(args, "num_train_epochs", None),
                "output_dir": getattr(args, "output_dir", None),
            },
        )

    @_never_raises
    def on_train_end(self, args, state, control, **kwargs):
        self._record("train_end", self._progress(state))
        self._stop_training()

    def _stop_training(self) -> None:
        reporter = self.reporter
        if reporter is not None:
            reporter.remove_context_provider(self.training_context)
        leave_process_phase("training")
        self._training = False

    @_never_raises
    def on_epoch_begin(self, args, state, control, **kwargs):
        self._state = state
        self._record("epoch_begin", self._progress(state))

    @_never_raises
    def on_epoch_end(self, args, state, control, **kwargs):
        self._record("epoch_end", self._progress(state))
        if self._training:
            self._phase_after(control)

    @_never_raises
    def on_step_end(self, args, state, control, **kwargs):
        self._set_step(state)
        if self._training:
            self._phase_after(control)

    @_never_raises
    def on_prediction_step(self, args, state, control, **kwargs):
        self._set_phase("evaluating")

    @_never_raises
    def on_log(self, args, state, control, logs=None, **kwargs):
        metrics = {name: logs[name] for name in HEARTBEAT_METRICS if isinstance(logs, dict) and name in logs}
        numbers = {name: value for name, value in metrics.items() if isinstance(value, (int, float))}
        if numbers:
            self._set_step(state, **numbers)

    @_never_raises
    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self._record("evaluate", {**self._progress(state), "metrics": _json(metrics or {})})
        if self._training:  # the evaluation is over: a checkpoint next, or training
            self._set_phase("saving" if getattr(control, "should_save", False) else "training")

    @_never_raises
    def on_save(self, args, state, control, **kwargs):
        self._record(
            "checkpoint_save",
            {**self._progress(state), "output_dir": getattr(args, "output_dir", None)},
        )
        if self._training:  # the checkpoint is written: back to training
            self._set_phase("training")

    def report_failure(self, error: BaseException) -> Optional[str]:
        """Reports a caught training failure with the training context (for code that
        catches around `trainer.train()`); uncaught ones are reported by init()'s hooks."""
        reporter = self.reporter
        if reporter is None:
            return None
        with phase("training"):
            return reporter.capture(error, severity=Severity.CRITICAL, context=self.training_context())
