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


def _in_library(path, function_name, body, **names):
    """A function named `function_name` whose frame is in the library file `path`
    (compiled under that name), running `body`; `names` are its globals."""
    namespace = dict(names)
    source = f"def {function_name}(*args):\n" + "".join(f"    {line}\n" for line in body.splitlines())
    exec(compile(source, path, "exec"), namespace)
    return namespace[function_name]


SITE = "/usr/lib/python3.11/site-packages"


def _from_pretrained_local_dir_without_config():
    """AutoModel.from_pretrained("./my-model") where ./my-model has no config.json:
    transformers raises from hub.py's cached_file, called from configuration_utils.py."""
    cached_file = _in_library(
        f"{SITE}/transformers/utils/hub.py", "cached_file",
        "raise OSError(f\"{args[0]} does not appear to have a file named config.json. Checkout "
        "'https://huggingface.co/{args[0]}/tree/None' for available files.\")",
    )
    get_config_dict = _in_library(f"{SITE}/transformers/configuration_utils.py", "_get_config_dict",
                                  "return cached_file(*args)", cached_file=cached_file)
    config_from_pretrained = _in_library(f"{SITE}/transformers/models/auto/configuration_auto.py",
                                         "from_pretrained", "return get_config_dict(*args)",
                                         get_config_dict=get_config_dict)
    model_from_pretrained = _in_library(f"{SITE}/transformers/models/auto/auto_factory.py", "from_pretrained",
                                        "return config_from_pretrained(*args)",
                                        config_from_pretrained=config_from_pretrained)
    model_from_pretrained("./my-model")


def _hub_errors():
    """huggingface_hub's error classes as its errors.py defines them (module and MRO),
    without importing it."""
    module = {"__module__": "huggingface_hub.errors"}
    http_error = type("HTTPError", (OSError,), {"__module__": "requests.exceptions"})
    hf_hub_http_error = type("HfHubHTTPError", (http_error,), module)
    entry_not_found = type("EntryNotFoundError", (Exception,), module)
    return {
        "HfHubHTTPError": hf_hub_http_error,
        "RepositoryNotFoundError": (repo := type("RepositoryNotFoundError", (hf_hub_http_error,), module)),
        "GatedRepoError": type("GatedRepoError", (repo,), module),
        "RemoteEntryNotFoundError": type("RemoteEntryNotFoundError", (hf_hub_http_error, entry_not_found), module),
        "LocalEntryNotFoundError": type("LocalEntryNotFoundError", (FileNotFoundError, entry_not_found), module),
    }


def _raised_by_hub_download(error_name, message, wrap_as_transformers=None):
    """hf_hub_download (in huggingface_hub/file_download.py) raising `error_name`;
    optionally re-raised by transformers' cached_file as the OSError it makes of it."""
    errors = _hub_errors()
    download = _in_library(f"{SITE}/huggingface_hub/file_download.py", "hf_hub_download",
                           "raise error_class(message)", error_class=errors[error_name], message=message)
    if wrap_as_transformers is None:
        download()
    cached_file = _in_library(
        f"{SITE}/transformers/utils/hub.py", "cached_file",
        "try:\n    download()\nexcept hub_error as error:\n    raise OSError(wrapped) from error",
        download=download, hub_error=errors[error_name], wrapped=wrap_as_transformers,
    )
    get_config_dict = _in_library(f"{SITE}/transformers/configuration_utils.py", "_get_config_dict",
                                  "return cached_file()", cached_file=cached_file)
    get_config_dict()


def _hub_entry_not_found():
    _raised_by_hub_download(
        "RemoteEntryNotFoundError",
        "404 Client Error. (Request ID: Root=1-65f0c1a2-4d1b)\n\nEntry Not Found for url: "
        "https://huggingface.co/gpt2/resolve/main/adapter_config.json.",
    )


def _hub_private_repo_wrapped_by_transformers():
    _raised_by_hub_download(
        "RepositoryNotFoundError",
        "401 Client Error. (Request ID: Root=1-65f0c1a2-77aa)\n\nRepository Not Found for url: "
        "https://huggingface.co/acme/llama-internal/resolve/main/config.json.\nPlease make sure you specified "
        "the correct `repo_id` and `repo_type`.\nIf you are trying to access a private or gated repo, make sure "
        "you are authenticated.\nInvalid username or password.",
        wrap_as_transformers="acme/llama-internal is not a local folder and is not a valid model identifier listed "
        "on 'https://huggingface.co/models'",
    )


def _hub_gated_repo():
    _raised_by_hub_download(
        "GatedRepoError",
        "403 Client Error. (Request ID: Root=1-65f0c1a2-19cd)\n\nCannot access gated repo for url "
        "https://huggingface.co/meta-llama/Llama-2-7b-hf/resolve/main/config.json.\nAccess to model "
        "meta-llama/Llama-2-7b-hf is restricted. You must have access to it and be authenticated to access it.",
    )


def _hub_unavailable():
    _raised_by_hub_download(
        "HfHubHTTPError",
        "503 Server Error: Service Unavailable for url: https://huggingface.co/gpt2/resolve/main/config.json",
    )


def _hub_offline_cache_miss_wrapped_by_transformers():
    _raised_by_hub_download(
        "LocalEntryNotFoundError",
        "An error happened while trying to locate the file on the Hub and we cannot find the requested files "
        "in the local cache. Please check your connection and try again.",
        wrap_as_transformers="We couldn't connect to 'https://huggingface.co' to load the files, and couldn't "
        "find them in the cached files.",
    )


def _invalid_value_in_configuration_utils():
    validate = _in_library(f"{SITE}/transformers/configuration_utils.py", "__init__",
                           "raise ValueError('`rope_scaling` must be a dictionary with two fields')")
    validate()


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
    ("from_pretrained of a local dir without config.json", _from_pretrained_local_dir_without_config,
     ErrorType.MODEL_LOADING),
    ("hub EntryNotFoundError (404)", _hub_entry_not_found, ErrorType.MODEL_LOADING),
    ("hub RepositoryNotFoundError (401) wrapped by transformers", _hub_private_repo_wrapped_by_transformers,
     ErrorType.MODEL_LOADING),
    ("hub GatedRepoError", _hub_gated_repo, ErrorType.MODEL_LOADING),
    ("hub 503", _hub_unavailable, ErrorType.NETWORK),
    ("NCCL watchdog timeout", lambda: (_ for _ in ()).throw(RuntimeError(
        "[Rank 3] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1, OpType=ALLREDUCE) "
        "ran for 600000 milliseconds before timing out.")), ErrorType.NETWORK),
    ("hub offline cache miss wrapped by transformers", _hub_offline_cache_miss_wrapped_by_transformers,
     ErrorType.NETWORK),
    ("invalid value in configuration_utils.py", _invalid_value_in_configuration_utils, ErrorType.CONFIGURATION),
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
