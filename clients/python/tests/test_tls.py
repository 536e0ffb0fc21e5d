"""The client over TLS to a diagd started with --tls-cert/--tls-key (and
--tls-client-ca for client certificates), with certificates made by openssl.
Skipped, saying why, when the diagd binary has no TLS flags or openssl is
missing."""

import os
import shutil
import subprocess
import tempfile

import pytest

from diagd_client import Client, DiagdError, Source, TlsConfig
from conftest import DiagdServer


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_certificates(directory):
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=diagd test CA", cwd=directory)
    for name, extension in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                            ("client", "extendedKeyUsage=clientAuth")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN=diagd test {name}", cwd=directory)
        with open(os.path.join(directory, f"{name}.ext"), "w") as ext:
            ext.write(extension + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=directory)


@pytest.fixture(scope="module")
def tls_diagd(diagd_binary):
    help_text = subprocess.run([diagd_binary, "serve", "--help"], capture_output=True, text=True).stdout
    if "--tls-cert" not in help_text or "--tls-client-ca" not in help_text:
        pytest.skip("this diagd binary has no --tls-cert/--tls-client-ca flags (server TLS not built in)")
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: it makes the test certificates")
    directory = tempfile.mkdtemp(prefix="diagd-pytest-tls-")
    os.chmod(directory, 0o755)
    _make_certificates(directory)
    data_dir = os.path.join(directory, "data")
    os.mkdir(data_dir)
    os.chmod(data_dir, 0o755)
    path = lambda name: os.path.join(directory, name)  # noqa: E731
    tls = TlsConfig(root_certificates=path("ca.pem"), certificate_chain=path("client.pem"),
                    private_key=path("client.key"))
    server = DiagdServer(diagd_binary, data_dir, ["--tls-cert", path("server.pem"), "--tls-key", path("server.key"),
                                                  "--tls-client-ca", path("ca.pem")], probe_tls=tls)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


def test_client_certificate_over_tls_reports_and_reads_back(tls_diagd):
    with Client(tls_diagd.target, tls=tls_diagd.probe_tls) as client:
        result = client.report_error("over mutual TLS", source=Source(run_id="tls-run"))
        assert client.get_log(result.id).message == "over mutual TLS"


def test_without_a_client_certificate_or_in_plaintext_the_call_fails(tls_diagd):
    ca_only = TlsConfig(root_certificates=tls_diagd.probe_tls.root_certificates)
    for client in (Client(tls_diagd.target, tls=ca_only, timeout=2), Client(tls_diagd.target, timeout=2)):
        with client, pytest.raises(DiagdError):
            client.stats()
