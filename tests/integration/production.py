"""A production-shaped homeserver for the tests: a private PostgreSQL cluster (Debian's
binaries) and a Synapse started from the config that `bin-bridge init` wrote.

Only what a test on one machine must change is laid over that config, in a second file given
to Synapse with another `-c` (later files win): TLS on a federation listener with a local CA,
federation limited to the test's own loopback servers, and cheap password hashing.
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import ipaddress
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bridge.__main__ import main as bin_bridge
from bridge.homeserver import _free_port

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ProductionSetupError(RuntimeError):
    """PostgreSQL or the production Synapse could not be started."""


# -- PostgreSQL ----------------------------------------------------------------------------------


def postgres_bin_dir() -> Path:
    """Debian's PostgreSQL binaries (newest version); installed with apt-get if missing."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True, env=env)
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if not found:
        raise ProductionSetupError(
            "PostgreSQL is not installed: apt-get install postgresql (make test does it as root)"
        )
    return Path(found[-1]).parent


def _version_key(path: str) -> int:
    try:
        return int(Path(path).parent.parent.name)
    except ValueError:
        return 0


@dataclass
class PostgresCluster:
    """A throw-away cluster in a temp dir, on 127.0.0.1 and a free port, as user `postgres`.

    As root, initdb and postgres must run as an unprivileged user: the Debian package's
    `postgres` account. The directory lives directly in /tmp because pytest's own temp
    directories are private to root.
    """

    bin_dir: Path
    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    user: str | None = None
    started_s: float = 0.0

    @classmethod
    def start(cls) -> PostgresCluster:
        began = time.monotonic()
        bin_dir = postgres_bin_dir()
        root = Path(tempfile.mkdtemp(prefix="bin-pg-"))
        user = "postgres" if os.geteuid() == 0 else None
        cluster = cls(bin_dir=bin_dir, root=root, port=_free_port(), user=user)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        try:
            cluster._initdb()
            cluster._spawn()
            cluster._wait_ready()
        except BaseException:
            cluster.stop()
            raise
        cluster.started_s = time.monotonic() - began
        return cluster

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *command: str, input_text: str | None = None) -> str:
        result = subprocess.run(
            list(command),
            user=self.user,
            input=input_text,
            capture_output=True,
            text=True,
            cwd=self.root,
            check=False,
        )
        if result.returncode != 0:
            raise ProductionSetupError(f"{command[0]} failed: {result.stderr[-2000:]}")
        return result.stdout

    def _initdb(self) -> None:
        # Local socket: trust (for the superuser's setup script); TCP: passwords, as in production.
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )

    def _spawn(self) -> None:
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "listen_addresses=127.0.0.1",
                # A test cluster: durability is not the point, speed is.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            user=self.user,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.root / "postgres.log").read_text(errors="replace")[-2000:]
                raise ProductionSetupError(f"postgres exited: {log}")
            ready = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-h", str(self.root), "-p", str(self.port)],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise ProductionSetupError(f"postgres was not ready within {timeout:.0f} s")

    def psql_file(self, path: Path) -> None:
        """Run an SQL file as the superuser over the local socket, on stdin as the guide does
        (`runuser -u postgres -- psql -v ON_ERROR_STOP=1 < FILE`)."""
        self._run(
            str(self.bin_dir / "psql"),
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.root),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            input_text=path.read_text(encoding="utf-8"),
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


# -- a local CA for federation over TLS ------------------------------------------------------------


@dataclass
class LocalCA:
    """A CA made for this test run, and one certificate for localhost / 127.0.0.1 signed by it."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def make(cls, directory: Path) -> LocalCA:
        directory.mkdir(parents=True, exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "BIN test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        ca_file = directory / "ca.pem"
        cert_file = directory / "localhost.pem"
        key_file = directory / "localhost.key"
        ca_file.write_bytes(ca.public_bytes(pem))
        cert_file.write_bytes(cert.public_bytes(pem))
        key_file.write_bytes(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        key_file.chmod(0o600)
        return cls(ca_file, cert_file, key_file)


# -- Synapse from `bin-bridge init` ----------------------------------------------------------------


@dataclass
class ProductionSynapse:
    """A Synapse on PostgreSQL whose config `bin-bridge init` generated.

    `url` and `registration_shared_secret` make it usable wherever the tests take the
    embedded homeserver (`running_world`, `make_account`).
    """

    name: str
    etc: Path
    """The directory `bin-bridge init --out` wrote."""
    data: Path
    client_port: int
    federation_port: int
    process: subprocess.Popen[bytes] | None = None
    started_s: float = 0.0
    init_output: str = ""
    peers: list[str] = field(default_factory=list)

    @property
    def server_name(self) -> str:
        return f"localhost:{self.federation_port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def config(self) -> Path:
        return self.etc / "synapse" / "homeserver.yaml"

    @property
    def bridge_config(self) -> Path:
        return self.etc / "bridge" / "bridge.toml"

    @property
    def registration_shared_secret(self) -> str:
        return (self.etc / "synapse" / "registration_shared_secret").read_text().strip()

    @property
    def log_path(self) -> Path:
        return self.data / "homeserver.log"

    def generated(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(self.config.read_text())
        return loaded

    def init(self, cluster: PostgresCluster, db: str, wijken: list[str]) -> None:
        """`bin-bridge init` exactly as an operator runs it, then the database it asks for."""
        args = [
            "init",
            "--out",
            str(self.etc),
            "--server-name",
            self.server_name,
            "--public-url",
            self.url,
            "--db-port",
            str(cluster.port),
            "--db-name",
            db,
            "--db-user",
            db,
            "--synapse-data-dir",
            str(self.data),
            "--bridge-data-dir",
            str(self.etc.parent / f"{self.name}-bot"),
            "--listen-port",
            str(self.client_port),
        ]
        for wijk in wijken:
            args += ["--wijk", wijk]
        import contextlib as _ctx
        import io

        captured = io.StringIO()
        with _ctx.redirect_stdout(captured):
            code = bin_bridge(args)
        self.init_output = captured.getvalue()
        if code != 0:
            raise ProductionSetupError(f"bin-bridge init failed ({code})")
        cluster.psql_file(self.etc / "synapse" / "postgres-setup.sql")

    def write_test_overlay(self, ca: LocalCA, peers: list[str]) -> Path:
        """What only a one-machine test changes: TLS federation on loopback, fast hashing."""
        self.peers = peers
        overlay = {
            "listeners": [
                *self.generated()["listeners"],
                {
                    "port": self.federation_port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": True,
                    "x_forwarded": False,
                    "resources": [{"names": ["client", "federation"], "compress": False}],
                },
            ],
            "tls_certificate_path": str(ca.cert_file),
            "tls_private_key_path": str(ca.key_file),
            "federation_custom_ca_list": [str(ca.ca_file)],
            "federation_domain_whitelist": [self.server_name, *peers],
            # Synapse refuses to federate with private addresses unless told; loopback only.
            "ip_range_whitelist": ["127.0.0.1"],
            "bcrypt_rounds": 4,
            # Else a repeated initial sync is served stale from cache for two minutes.
            "caches": {"sync_response_cache_duration": 0},
        }
        path = self.etc / "synapse" / "test-overlay.yaml"
        path.write_text(yaml.safe_dump(overlay, sort_keys=False))
        return path

    def start(self, overlay: Path, timeout: float = 120) -> None:
        began = time.monotonic()
        self.data.mkdir(parents=True, exist_ok=True)
        (self.data / "media").mkdir(exist_ok=True)
        log = open(self.data / "stdout.log", "ab")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "synapse.app.homeserver",
                "-c",
                str(self.config),
                "-c",
                str(overlay),
            ],
            cwd=self.data,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise ProductionSetupError(
                    f"Synapse ({self.name}) exited with {self.process.returncode}: " + self._tail()
                )
            if _answers(self.url + "/_matrix/client/versions"):
                break
            if time.monotonic() > deadline:
                raise ProductionSetupError(f"Synapse ({self.name}) not ready: " + self._tail())
            time.sleep(0.1)
        self.started_s = time.monotonic() - began

    def _tail(self) -> str:
        parts = []
        for path in (self.data / "stdout.log", self.log_path):
            with contextlib.suppress(OSError):
                parts.append(path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _answers(url: str) -> bool:
    try:
        with NO_PROXY.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def new_synapse(root: Path, name: str) -> ProductionSynapse:
    return ProductionSynapse(
        name=name,
        etc=root / f"{name}-etc",
        data=root / f"{name}-data",
        client_port=_free_port(),
        federation_port=_free_port(),
    )
