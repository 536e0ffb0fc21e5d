"""The classification table, checked through diagd: each kind of failure is
stored with the error type the table gives it, and a user rule takes
precedence over the built-in ones."""

import socket

import pytest

import diagd_client
from diagd_client import ErrorType, Rule, Source
from diagd_client.classify import _user_rules


def raised(function):
    try:
        function()
    except BaseException as error:  # noqa: BLE001 - the tests need the exception object
        return error
    raise AssertionError("did not raise")


def _oom():
    error_class = type("OutOfMemoryError", (RuntimeError,), {"__module__": "torch.cuda"})
    raise error_class("CUDA error")


def _hub_download():
    def hf_hub_download():
        raise OSError("We couldn't connect to 'https://huggingface.co' to load this file")
    hf_hub_download()


def _gaierror():
    raise socket.gaierror(-2, "Name or service not known")


def _config_in_post_init():
    source = "def __post_init__():\n    raise ValueError('--fp16 and --bf16 cannot both be set')\n"
    namespace = {}
    exec(compile(source, "/site-packages/transformers/training_args.py", "exec"), namespace)
    namespace["__post_init__"]()


def _from_pretrained():
    def from_pretrained():
        raise FileNotFoundError("checkpoint-500/model.safetensors")
    from_pretrained()


def _state_dict():
    raise RuntimeError("Error(s) in loading state_dict for LlamaForCausalLM: size mismatch for lm_head")


def _generate():
    def generate():
        raise IndexError("index out of range in self")
    generate()


def _training_phase():
    with diagd_client.phase("training"):
        raise ValueError("labels have shape (8,) but logits (8, 2, 5)")


CASES = [
    ("torch.cuda.OutOfMemoryError", _oom, ErrorType.OOM),
    ("MemoryError", lambda: (_ for _ in ()).throw(MemoryError()), ErrorType.OOM),
    ("CUDA out of memory message", lambda: (_ for _ in ()).throw(RuntimeError("CUDA out of memory. Tried")), ErrorType.OOM),
    ("ConnectionError", lambda: (_ for _ in ()).throw(ConnectionRefusedError("refused")), ErrorType.NETWORK),
    ("socket.gaierror", _gaierror, ErrorType.NETWORK),
    ("hub download failure", _hub_download, ErrorType.NETWORK),
    ("config validation", _config_in_post_init, ErrorType.CONFIGURATION),
    ("missing checkpoint in from_pretrained", _from_pretrained, ErrorType.MODEL_LOADING),
    ("state_dict mismatch", _state_dict, ErrorType.MODEL_LOADING),
    ("inside generate", _generate, ErrorType.INFERENCE),
    ("inside training", _training_phase, ErrorType.TRAINING),
    ("anything else", lambda: (_ for _ in ()).throw(KeyError("x")), ErrorType.OTHER),
]


@pytest.mark.parametrize("name,failure,expected", CASES, ids=[c[0] for c in CASES])
def test_each_row_of_the_table_reaches_diagd_with_its_type(client, run_id, name, failure, expected):
    result = client.report_error(raised(failure), source=Source(run_id=run_id))
    assert client.get_log(result.id).error_type == expected


def test_a_user_rule_is_checked_before_the_built_in_table(client, run_id):
    diagd_client.add_rule(Rule(ErrorType.INFERENCE, exception_names=("ConnectionRefusedError",)))
    try:
        result = client.report_error(raised(lambda: (_ for _ in ()).throw(ConnectionRefusedError("vllm"))),
                                     source=Source(run_id=run_id))
        assert client.get_log(result.id).error_type == ErrorType.INFERENCE
    finally:
        _user_rules.clear()
    result = client.report_error("plain message, no rule", source=Source(run_id=run_id))
    assert client.get_log(result.id).error_type == ErrorType.OTHER
