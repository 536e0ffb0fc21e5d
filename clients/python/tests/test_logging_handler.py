"""The logging handler init() installs: ERROR → HIGH, CRITICAL → CRITICAL,
WARNING → MEDIUM (or LOW, configured) when warnings are shipped; records below
the shipped level become recent actions of the next error."""

import logging

import pytest

import diagd_client
from diagd_client import Severity
from conftest import logs_of_run, wait_for


@pytest.fixture
def reporter_factory(diagd, spool_dir):
    loggers = []

    def make(run_id, logger_name, **options):
        logger = logging.getLogger(logger_name)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        loggers.append(logger)
        return diagd_client.init(diagd.target, run_id=run_id, spool_dir=spool_dir, logger=logger,
                                 follow_debug_mode=False, install_excepthooks=False, **options)

    yield make
    diagd_client.shutdown(timeout=2)


def test_levels_map_to_severities_and_lower_records_become_recent_actions(client, run_id, reporter_factory):
    reporter_factory(run_id, "pytest.levels")
    logger = logging.getLogger("pytest.levels")
    logger.info("loaded 1000 rows")
    logger.warning("learning rate looks high")
    logger.error("eval failed for shard %d", 7, extra={"shard": 7})
    logger.critical("node lost")
    try:
        1 / 0
    except ZeroDivisionError:
        logger.exception("step failed")
    assert diagd_client.flush(5)
    logs = {log.message.split(":")[0]: log for log in logs_of_run(client, run_id)}
    assert set(logs) == {"eval failed for shard 7", "node lost", "step failed"}
    assert logs["eval failed for shard 7"].severity == Severity.HIGH
    assert logs["eval failed for shard 7"].context["shard"] == 7
    assert logs["eval failed for shard 7"].context["logger"] == "pytest.levels"
    assert "test_logging_handler.py" in logs["eval failed for shard 7"].stack_trace
    assert logs["node lost"].severity == Severity.CRITICAL
    assert logs["step failed"].message == "step failed: ZeroDivisionError: division by zero"
    assert "ZeroDivisionError" in logs["step failed"].stack_trace
    actions = [a.action for a in logs["eval failed for shard 7"].recent_actions]
    assert actions == ["loaded 1000 rows", "learning rate looks high"]


def test_shipped_warnings_take_the_configured_severity(client, run_id, reporter_factory):
    reporter_factory(run_id, "pytest.warnings", event_level=logging.WARNING, warning_severity="low")
    logging.getLogger("pytest.warnings").warning("deprecated argument fp16_opt_level")
    assert diagd_client.flush(5)
    [log] = logs_of_run(client, run_id)
    assert log.message == "deprecated argument fp16_opt_level" and log.severity == Severity.LOW


def test_a_fingerprint_in_extra_or_capture_groups_events_in_diagd(client, run_id, reporter_factory):
    reporter_factory(run_id, "pytest.fingerprint")
    logger = logging.getLogger("pytest.fingerprint")
    logger.error("timeout talking to db-1", extra={"fingerprint": ["database-timeouts"], "db": 1})
    logger.error("connection reset by storage", extra={"fingerprint": ["database-timeouts"]})
    try:
        raise KeyError("llama")
    except KeyError as error:
        diagd_client.capture_exception(error, fingerprint=["{{ default }}", "tenant-a"])
        diagd_client.capture_exception(error)
    assert diagd_client.flush(5)
    stored = logs_of_run(client, run_id)
    logs = {log.message: log for log in stored}
    db1, reset = logs["timeout talking to db-1"], logs["connection reset by storage"]
    assert db1.group_id > 0 and db1.group_id == reset.group_id, "one group by the client's fingerprint"
    assert "fingerprint" not in db1.context and db1.context["db"] == 1, "not context"
    key_errors = [log for log in stored if "KeyError" in log.message]
    assert len(key_errors) == 2
    tenant, plain = key_errors
    assert tenant.group_id != plain.group_id, "{{ default }} plus a tenant splits the default group"
    assert len(tenant.fingerprint) == 32
