"""DiagdCallback driven through transformers' real CallbackHandler,
TrainingArguments, TrainerState and TrainerControl: milestones become recent
actions, and a training failure reaches diagd as TRAINING with the scrubbed
training arguments, global step and epoch. Skipped where transformers is not
installed (torch is not needed)."""

import pytest

from diagd_client import ErrorType, Severity
from conftest import logs_of_run, run_script

pytest.importorskip("transformers", reason="transformers is not installed: pip install transformers to run this test")

TRAINING_SCRIPT = """
import os
import diagd_client
from diagd_client.integrations.transformers import DiagdCallback
from transformers import TrainingArguments, TrainerState, TrainerControl
from transformers.trainer_callback import CallbackHandler, DefaultFlowCallback

diagd_client.init(os.environ["DIAGD_TARGET"], run_id=os.environ["RUN_ID"], spool_dir=os.environ["SPOOL"])
args = TrainingArguments(output_dir=os.environ["OUT"], num_train_epochs=2, hub_token="hf_supersecrettokenvalue123",
                         per_device_train_batch_size=4, report_to=[])
state, control = TrainerState(), TrainerControl()
# As Trainer builds it: DefaultFlowCallback first (without it transformers logs a
# warning, which would be a recent action too).
handler = CallbackHandler([DefaultFlowCallback(), DiagdCallback()], None, None, None, None)
state.max_steps = 20
handler.on_train_begin(args, state, control)
state.epoch = 0.0
handler.on_epoch_begin(args, state, control)
state.global_step, state.epoch = 10, 1.0
handler.on_epoch_end(args, state, control)
handler.on_evaluate(args, state, control, metrics={"eval_loss": 0.42})
handler.on_save(args, state, control)
state.global_step, state.epoch = 13, 1.3
raise ValueError("labels contain -1 at position 5")  # uncaught, mid-training
"""


def test_callback_records_milestones_and_reports_the_failure_with_training_state(client, diagd, run_id, spool_dir, tmp_path):
    finished = run_script(
        TRAINING_SCRIPT,
        {"DIAGD_TARGET": diagd.target, "RUN_ID": run_id, "SPOOL": spool_dir, "OUT": str(tmp_path / "out")},
        timeout=120,
    )
    assert finished.returncode == 1, finished.stderr
    [log] = logs_of_run(client, run_id)
    assert log.message == "ValueError: labels contain -1 at position 5"
    assert log.error_type == ErrorType.TRAINING and log.severity == Severity.CRITICAL
    assert log.context["global_step"] == 13 and log.context["epoch"] == 1.3
    training_arguments = log.context["training_arguments"]
    assert training_arguments["num_train_epochs"] == 2 and training_arguments["per_device_train_batch_size"] == 4
    assert training_arguments["hub_token"] == "[redacted]"
    milestones = [a.action for a in log.recent_actions]
    assert milestones == ["train_begin", "epoch_begin", "epoch_end", "evaluate", "checkpoint_save"]
    evaluate = log.recent_actions[3]
    assert evaluate.details["metrics"] == {"eval_loss": 0.42} and evaluate.details["global_step"] == 10


HOSTILE_SCRIPT = """
import os
import diagd_client
from diagd_client.integrations.transformers import DiagdCallback
from transformers import TrainerState, TrainerControl
from transformers.trainer_callback import CallbackHandler, DefaultFlowCallback

class Unprintable:
    def __repr__(self):
        raise RuntimeError("repr of a lazy tensor failed")

class HostileArgs:  # training arguments whose values cannot be serialised
    output_dir = os.environ["OUT"]
    num_train_epochs = Unprintable()
    def to_dict(self):
        return {"huge": 10 ** 400, "weird": Unprintable(), "nested": {Unprintable(): 1}, "hf_token": "hf_abcdefghijklmnopqrstuvwxyz"}

diagd_client.init(os.environ["DIAGD_TARGET"], run_id=os.environ["RUN_ID"], spool_dir=os.environ["SPOOL"])
args, state, control = HostileArgs(), TrainerState(), TrainerControl()
handler = CallbackHandler([DefaultFlowCallback(), DiagdCallback()], None, None, None, None)
state.max_steps = 5
handler.on_train_begin(args, state, control)
state.global_step, state.epoch = 3, Unprintable()
handler.on_evaluate(args, state, control, metrics={"eval_loss": Unprintable(), "big": 10 ** 400})
handler.on_save(args, state, control)
raise ValueError("training went on after the hostile values")
"""


def test_the_callback_never_raises_inside_trainer_even_for_values_it_cannot_serialise(
    client, diagd, run_id, spool_dir, tmp_path
):
    finished = run_script(
        HOSTILE_SCRIPT,
        {"DIAGD_TARGET": diagd.target, "RUN_ID": run_id, "SPOOL": spool_dir, "OUT": str(tmp_path / "out")},
        timeout=120,
    )
    assert finished.returncode == 1 and "ValueError: training went on" in finished.stderr, finished.stderr
    [log] = logs_of_run(client, run_id)
    assert log.message == "ValueError: training went on after the hostile values"
    assert log.error_type == ErrorType.TRAINING
    arguments = log.context["training_arguments"]
    assert arguments["huge"] == str(10 ** 400) and arguments["hf_token"] == "[redacted]"
    assert arguments["weird"] == "<unrepresentable Unprintable>"
    assert [a.action for a in log.recent_actions] == ["train_begin", "evaluate", "checkpoint_save"]
    assert log.recent_actions[1].details["metrics"]["eval_loss"] == "<unrepresentable Unprintable>"
