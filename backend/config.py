"""The backend's configuration: one frozen, validated object that the app factory takes.

Every setting is a field of `Config` (or of its nested `Limits`) whose metadata carries its
help text, so that ``alsats-backend``'s flags, its ``ALSATS_*`` environment variables and
the documentation's table of them are all made from this one place (`settings()`).
"""

from __future__ import annotations

import ssl
import types
import typing
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
ENV_PREFIX = "ALSATS_"
LEDGER_SCHEMES = ("sqlite:///", "postgresql://", "postgres://")


class ConfigError(ValueError):
    """A setting is out of range; the message names it."""


def setting(default: Any = MISSING, help: str = "", **meta: Any) -> Any:
    """A dataclass field that documents itself: its help (and, optionally, ``flag``,
    ``aliases``, ``metavar``, ``cli_default`` or ``shown_default``, what --help says of a
    default that is no plain value) become the command line's and the docs'."""
    return field(default=default, metadata={"help": help, **meta})


@dataclass(frozen=True)
class PoolRules:
    """What PUT /pool and /holdout accept, published in /info and the OpenAPI document so
    that a client refuses a wrong pool before it pays for anything: features (n, d) or
    images (n, h, w) and (n, h, w, c), as uint8 (pixels, kept compact: 60,000 MNIST
    digits in 47 MB) or float32 / float64 (kept as float32, which is what scikit-learn
    fits on anyway)."""

    max_samples: int = 1_000_000
    max_features: int = 65_536  # a 256 x 256 grey image
    max_values: int = 2**30  # a million 28 x 28 digits are 784,000,000
    dtypes: tuple[str, ...] = ("uint8", "float32", "float64")
    channels: tuple[int, ...] = (1, 3, 4)  # grey, RGB, RGBA
    shapes: tuple[str, ...] = ("(n, d)", "(n, h, w)", "(n, h, w, c)")

    def published(self) -> dict:
        """The rules as JSON, as /info gives them."""
        return {"shapes": list(self.shapes), "dtypes": list(self.dtypes),
                "channels": list(self.channels), "max_samples": self.max_samples,
                "max_features": self.max_features, "max_values": self.max_values}


DEFAULT_POOL_RULES = PoolRules()


@dataclass(frozen=True)
class Limits:
    """What one request may carry; beyond these the server answers 413 or 400."""

    max_json_bytes: int = setting(32 * MiB, "largest JSON request body, in bytes")
    # a million 28 x 28 uint8 digits: 748 MiB
    max_pool_bytes: int = setting(1024 * MiB, "largest .npy pool or held-out upload, in bytes")
    max_samples_per_call: int = setting(10_000, "most samples in one /train or /label call")
    max_pool_samples: int = setting(PoolRules.max_samples, "most samples in a pool")
    max_features: int = setting(PoolRules.max_features,
                                "most features of a pool or held-out sample (h x w x c)")
    max_iterations_per_purchase: int = setting(1_000_000, "most iterations one invoice buys")
    max_query_k: int = setting(100, "most samples one /query returns")

    def __post_init__(self) -> None:
        for item in fields(self):
            if getattr(self, item.name) < 1:
                raise ConfigError(f"{item.name} is out of range: {getattr(self, item.name)!r}")

    def pool_rules(self) -> PoolRules:
        """What PUT /pool and /holdout accept under these limits."""
        return PoolRules(max_samples=self.max_pool_samples, max_features=self.max_features)


@dataclass(frozen=True)
class Config:
    """Every setting of a server; `alsats-backend` takes each as a flag or an ``ALSATS_*``
    environment variable (see `settings()`)."""

    network_file: Path = setting(help="the Polar network file", flag="network",
                                 metavar="FILE")
    node: str = setting(help="the server's LND node in that file", metavar="NAME")
    data_dir: Path = setting(help="credit ledger, root key (and simnet state)",
                             cli_default=Path(".alsats/backend"))
    simnet: bool = setting(False, "run the simnet for every LND node of the file in this "
                                  "process")
    lnd_data_dir: Path | None = setting(
        None, "without --simnet: the folder of a Polar export holding the nodes' TLS certs "
              "and macaroons", shown_default="the network file's own paths")
    host: str = setting("127.0.0.1", "address to listen on")
    port: int = setting(8402, "port to listen on")
    price_msat: int = setting(1000, "price of one iteration in msat (1000 = 1 sat)")
    invoice_expiry_seconds: int = setting(3600, "an unpaid invoice expires after this long")
    credential_ttl_seconds: int = setting(7 * 24 * 3600, "a paid credential is usable this long")
    # challenges cost nothing to ask for: a client address gets this many a minute for
    # sessions that never paid (0: no limit), a session this many unpaid invoices at once
    challenges_per_minute: int = setting(
        120, "challenges a client address gets a minute for sessions that never paid "
             "(0: no limit)")
    max_open_challenges: int = setting(100, "unpaid invoices a session may hold at once")
    session_idle_seconds: int = setting(24 * 3600, "a session unused this long is freed")
    workers: int = setting(2, "threads that fit and score models off the event loop")
    # a client silent this long is dropped: a request body that stops arriving (408), a
    # connection that sends no complete request, an idle keep-alive connection
    read_timeout_seconds: float = setting(
        60.0, "drop a client silent this long: a request body that stops arriving (408), "
              "a connection that sends no request, an idle keep-alive connection",
        flag="read-timeout", aliases=("read-timeout-seconds",), metavar="SECONDS")
    ledger: str = setting(
        "", "the credit ledger: sqlite:///PATH or postgresql://...", metavar="URL",
        shown_default="sqlite:///DATA_DIR/credits.sqlite")
    learners: str = setting(
        "local", "where sessions' learners run: local (in this process), ray (a local Ray "
                 "that alsats starts) or ray://ADDRESS", metavar="WHERE")
    processes: int = setting(1, "web processes (more than 1 needs learners outside them: "
                                "--learners ray)")
    tls_cert: Path | None = setting(None, "serve HTTPS with this certificate (PEM; with "
                                          "--tls-key), for a server not behind a proxy")
    tls_key: Path | None = setting(None, "the certificate's private key (PEM)")
    metrics: bool = setting(True, "serve Prometheus metrics at /metrics")
    access_log: bool = setting(True, "log a line per request (behind nginx, its own access "
                                     "log may do)")
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        checks = {
            "price_msat": self.price_msat >= 1,
            "port": 0 <= self.port < 65536,
            "invoice_expiry_seconds": self.invoice_expiry_seconds >= 10,
            "credential_ttl_seconds": self.credential_ttl_seconds >= 60,
            "challenges_per_minute": self.challenges_per_minute >= 0,
            "max_open_challenges": self.max_open_challenges >= 1,
            "session_idle_seconds": self.session_idle_seconds >= 60,
            "workers": self.workers >= 1,
            "read_timeout_seconds": self.read_timeout_seconds > 0,
            "processes": self.processes >= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"{name} is out of range: {getattr(self, name)!r}")
        if self.ledger and not self.ledger.startswith(LEDGER_SCHEMES):
            raise ConfigError(f"ledger {self.ledger!r} is neither sqlite:///PATH nor "
                              "postgresql://...")
        if self.ledger.startswith("sqlite:///") and not self.ledger[len("sqlite:///"):]:
            raise ConfigError("ledger sqlite:/// names no file: sqlite:///PATH")
        if not (self.learners in ("local", "ray")
                or (self.learners.startswith("ray://") and len(self.learners) > len("ray://"))):
            raise ConfigError(f"learners {self.learners!r} is none of local, ray, "
                              "ray://ADDRESS")
        # a session's calls may land on any process, so its learner must live outside them
        if self.processes > 1 and self.learners == "local":
            raise ConfigError(f"--processes {self.processes} needs --learners ray "
                              "(or ray://...)")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert and --tls-key go together: give both or neither")
        for name in ("network_file", "data_dir"):
            object.__setattr__(self, name, Path(getattr(self, name)))
        for name in ("lnd_data_dir", "tls_cert", "tls_key"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, Path(getattr(self, name)))

    @property
    def simnet_dir(self) -> Path:
        return self.data_dir / "simnet"

    @property
    def lightning_data_dir(self) -> Path | None:
        """Where the node's TLS cert and macaroons are: the simnet's, a Polar export's
        folder, or (None) the absolute paths the network file names."""
        return self.simnet_dir if self.simnet else self.lnd_data_dir

    @property
    def ledger_url(self) -> str:
        """The ledger's URL, the default (a SQLite file in the data dir) resolved."""
        return self.ledger or f"sqlite:///{self.data_dir / 'credits.sqlite'}"

    @property
    def tls(self) -> bool:
        """Whether the server speaks HTTPS itself."""
        return self.tls_cert is not None


def ssl_context(config: Config) -> ssl.SSLContext | None:
    """The server's TLS context from the config's cert and key (None: plain HTTP, as behind
    a proxy that terminates TLS); TLS 1.2 at least. An unreadable file is a ConfigError."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for flag, path in (("--tls-cert", config.tls_cert), ("--tls-key", config.tls_key)):
        if not path.is_file():
            raise ConfigError(f"{flag} {path}: no such file")
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"--tls-cert {config.tls_cert} / --tls-key {config.tls_key}: "
                          f"cannot load them: {exc}") from None
    return context


@dataclass(frozen=True)
class Setting:
    """One setting as the command line and the docs see it: a field of `Config` (or, with
    ``nested="limits"``, of `Limits`), its flag, environment variable, type and default."""

    name: str
    nested: str  # "" for Config's own fields, "limits" for Limits'
    flag: str  # "--port"
    aliases: tuple[str, ...]
    env: str  # "ALSATS_PORT"
    type: type  # int, float, str, bool or Path
    optional: bool  # None is a value (Path | None)
    default: Any  # MISSING: required
    help: str
    metavar: str | None
    shown_default: str | None  # how --help writes the default, if not plainly

    @property
    def required(self) -> bool:
        return self.default is MISSING


def _field_setting(item: Field, hint: Any, nested: str) -> Setting:
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    kind = next(arg for arg in args if arg is not type(None)) if optional else hint
    flag = item.metadata.get("flag", item.name.replace("_", "-"))
    if "cli_default" in item.metadata:
        default = item.metadata["cli_default"]
    elif item.default is not MISSING:
        default = item.default
    else:
        default = MISSING
    return Setting(name=item.name, nested=nested, flag=f"--{flag}",
                   aliases=tuple(f"--{alias}" for alias in item.metadata.get("aliases", ())),
                   env=ENV_PREFIX + flag.replace("-", "_").upper(), type=kind,
                   optional=optional, default=default, help=item.metadata.get("help", ""),
                   metavar=item.metadata.get("metavar"),
                   shown_default=item.metadata.get("shown_default"))


def settings() -> list[Setting]:
    """Every setting, Config's fields then Limits' (flattened: ``--max-pool-bytes``): what
    the command line's flags, its environment variables and the docs' table are made of."""
    found = []
    for cls, nested in ((Config, ""), (Limits, "limits")):
        hints = typing.get_type_hints(cls)
        for item in fields(cls):
            if item.name != "limits":
                found.append(_field_setting(item, hints[item.name], nested))
    return found
