"""InterceptConfig and IptablesPlan: construction, renderings, and bad input."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

import istio_nomad
from istio_nomad import InterceptConfig, IptablesPlan

from conftest import GOLDEN

DEFAULTS = {
    "proxy_port": 15001,
    "inbound_capture_port": 15006,
    "proxy_uids": [1337],
    "proxy_gids": None,
    "bypass_root": False,
    "mode": "redirect",
    "inbound_ports": "all",
    "exclude_inbound_ports": [],
    "outbound_cidrs": "all",
    "exclude_outbound_cidrs": [],
    "exclude_outbound_ports": [],
    "outbound_interfaces": [],
    "tproxy_mark": 1337,
    "tproxy_route_table": 133,
    "ipv6": False,
}


def test_defaults() -> None:
    c = InterceptConfig()
    assert c.to_dict() == DEFAULTS
    assert repr(c) == 'InterceptConfig(mode="REDIRECT", proxy_port=15001, inbound_capture_port=15006, ipv6=False)'
    assert InterceptConfig.from_dict({}) == c
    assert InterceptConfig.from_flags([]) == c
    assert InterceptConfig.from_env({}) == c


def test_keywords_equal_flags_env_and_dict() -> None:
    kw = InterceptConfig(
        exclude_inbound_ports=[15020, 15090],
        exclude_outbound_ports=[3306, 5432],
        exclude_outbound_cidrs=["10.0.0.0/8", "172.16.0.0/12", "192.168.1.7"],
        proxy_uids=[1337, 1000],
        proxy_gids=[2000],
        bypass_root=True,
    )
    flags = InterceptConfig.from_flags(
        ["-d", "15020,15090", "-o", "3306,5432", "-x", "10.0.0.0/8,172.16.0.0/12,192.168.1.7",
         "-u", "1337,1000", "-g", "2000", "--bypass-root"]
    )
    assert kw == flags
    assert InterceptConfig.from_dict(kw.to_dict()) == kw
    d = kw.to_dict()
    assert d["exclude_outbound_cidrs"] == ["10.0.0.0/8", "172.16.0.0/12", "192.168.1.7/32"]
    assert d["proxy_gids"] == [2000]


def test_selections() -> None:
    assert InterceptConfig(inbound_ports=[9080, 9443]).to_dict()["inbound_ports"] == [9080, 9443]
    assert InterceptConfig(inbound_ports="none").to_dict()["inbound_ports"] == "none"
    assert InterceptConfig(outbound_cidrs=["10.96.0.0/12"]).to_dict()["outbound_cidrs"] == ["10.96.0.0/12"]
    assert InterceptConfig(inbound_ports=(9080,)) == InterceptConfig.from_flags(["-b", "9080"])
    tproxy = InterceptConfig(mode="tproxy", ipv6=True)
    assert tproxy == InterceptConfig.from_flags(["-m", "TPROXY", "--ipv6"])


def test_env_and_env_files(tmp_path: Path) -> None:
    env = {"ISTIO_INBOUND_PORTS": "9080,9443", "ISTIO_SERVICE_CIDR": "", "PATH": "/bin"}
    c = InterceptConfig.from_env(env)
    assert c == InterceptConfig(inbound_ports=[9080, 9443], outbound_cidrs="none")
    cluster = tmp_path / "cluster.env"
    sidecar = tmp_path / "sidecar.env"
    cluster.write_text("ISTIO_INBOUND_PORTS=80\nISTIO_SERVICE_CIDR=10.0.0.0/8\n")
    sidecar.write_text("ISTIO_INBOUND_PORTS=9080\n")
    got = InterceptConfig.from_env_files([cluster, str(sidecar)])
    assert got == InterceptConfig(inbound_ports=[9080], outbound_cidrs=["10.0.0.0/8"])


def test_plan_renderings() -> None:
    plan = InterceptConfig(inbound_ports=[9080]).plan()
    assert IptablesPlan(InterceptConfig(inbound_ports=[9080])).restore() == plan.restore()
    assert plan.families == ["ipv4"]
    restore = plan.restore()
    assert restore.splitlines()[:2] == ["*nat", ":ISTIO_REDIRECT - [0:0]"]
    assert "-A ISTIO_INBOUND -p tcp -m tcp --dport 9080 -j ISTIO_IN_REDIRECT" in restore.splitlines()
    assert restore.endswith("COMMIT\n")
    assert plan.restore("ipv6") == ""
    assert plan.cleanup().startswith("*nat\n")
    assert plan.cleanup().endswith("-X ISTIO_IN_REDIRECT\nCOMMIT\n")
    assert plan.shell().startswith("#!/bin/sh\n")
    assert "iptables -t nat -N ISTIO_REDIRECT" in plan.shell().splitlines()
    assert plan.cleanup_shell().startswith("#!/bin/sh\n# Removes the Istio traffic interception rules.\n")
    assert plan.rules_file() == {"ipv4": restore, "ipv6": None, "ip_commands": []}
    assert plan.config == InterceptConfig(inbound_ports=[9080])
    assert repr(plan) == 'IptablesPlan(families=["ipv4"])'


def test_tproxy_rules_file_has_routes() -> None:
    plan = InterceptConfig(mode="tproxy", ipv6=True).plan()
    rf = plan.rules_file()
    assert plan.families == ["ipv4", "ipv6"]
    assert rf["ipv6"] == plan.restore("ipv6") != ""
    assert ["-4", "rule", "add", "fwmark", "1337", "lookup", "133"] in rf["ip_commands"]


def test_bad_family() -> None:
    plan = InterceptConfig().plan()
    with pytest.raises(ValueError, match='family must be "ipv4" or "ipv6", not "v4"'):
        plan.restore("v4")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        plan.cleanup("IPv6")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "path", "message"),
    [
        ({"proxy_port": 70000}, "intercept.proxy_port", "invalid value: integer `70000`, expected u16"),
        ({"proxy_port": -1}, "intercept.proxy_port", "invalid value: integer `-1`, expected u16"),
        ({"mode": "REDIRECT"}, "intercept.mode", "unknown variant `REDIRECT`, expected `redirect` or `tproxy`"),
        ({"inbound_ports": "some"}, "intercept.inbound_ports", 'expected "all", "none" or a list of ports, got "some"'),
        ({"inbound_ports": [80, 70000]}, "intercept.inbound_ports[1]", "invalid value: integer `70000`, expected u16"),
        ({"inbound_ports": 5}, "intercept.inbound_ports", 'invalid type: integer `5`, expected "all", "none" or a list of ports'),
        ({"inbound_ports": {80}}, "intercept.inbound_ports", "a value of type 'set' cannot be read"),
        ({"exclude_outbound_cidrs": ["10.0.0.0/33"]}, "intercept.exclude_outbound_cidrs[0]", "prefix length 33 is larger than 32"),
    ],
)
def test_values_of_the_wrong_shape(kwargs: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(istio_nomad.SpecError) as ei:
        InterceptConfig(**kwargs)
    assert ei.value.path == path
    assert message in str(ei.value)


def test_broken_rules_are_validation_errors() -> None:
    with pytest.raises(istio_nomad.ValidationError) as ei:
        InterceptConfig(proxy_port=0, tproxy_route_table=254)
    assert ei.value.errors == [
        ("intercept.proxy_port", "port must be between 1 and 65535"),
        ("intercept.tproxy_route_table", "table 0, 253 (default), 254 (main) and 255 (local) are reserved"),
    ]


@pytest.mark.parametrize(
    "kwargs",
    [{"proxy_port": "15001"}, {"proxy_uids": "1337"}, {"bypass_root": "yes"}, {"bogus": 1}, {"ipv6": 1.5}],
)
def test_wrong_python_types(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        InterceptConfig(**kwargs)


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(TypeError):
        InterceptConfig(15001)  # type: ignore[misc]


def test_bad_flags_and_env_are_iptables_errors(tmp_path: Path) -> None:
    with pytest.raises(istio_nomad.IptablesError) as ei:
        InterceptConfig.from_flags(["-p", "x"])
    assert ei.value.family == "iptables"
    assert str(ei.value) == 'invalid -p "x": port must be a decimal number'
    with pytest.raises(istio_nomad.IptablesError, match="ISTIO_INBOUND_PORTS"):
        InterceptConfig.from_env({"ISTIO_INBOUND_PORTS": "http"})
    with pytest.raises(TypeError):
        InterceptConfig.from_env({"ISTIO_INBOUND_PORTS": 80})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        InterceptConfig.from_flags("-p 15001")  # type: ignore[arg-type]
    with pytest.raises(istio_nomad.MeshIOError):
        InterceptConfig.from_env_files([tmp_path / "missing.env"])


def test_huge_flag_value() -> None:
    with pytest.raises(istio_nomad.IptablesError):
        InterceptConfig.from_flags(["-b", "9" * 10_000_000])


def golden_cases() -> list[Path]:
    return sorted((GOLDEN / "iptables").glob("*.golden"))


def render_like_the_core_test(flags: list[str]) -> str:
    """The document istio-nomad-core/tests/iptables_golden.rs writes, from Python."""
    plan = InterceptConfig.from_flags(flags).plan()
    label = {"ipv4": "IPv4", "ipv6": "IPv6"}
    out = f"# flags: {' '.join(shlex.quote(f) if f else repr(f) for f in flags)}\n"
    for fam in plan.families:
        out += f"\n## iptables-restore --noflush ({label[fam]})\n{plan.restore(fam)}"
    out += f"\n## shell\n{plan.shell()}"
    for fam in plan.families:
        out += f"\n## cleanup, iptables-restore --noflush ({label[fam]})\n{plan.cleanup(fam)}"
    out += f"\n## cleanup, shell\n{plan.cleanup_shell()}"
    return out


@pytest.mark.parametrize("golden", golden_cases(), ids=lambda p: p.stem)
def test_renderings_equal_the_core_golden_files(golden: Path) -> None:
    text = golden.read_text()
    header = text.splitlines()[0]
    assert header.startswith("# flags:")
    flags = shlex.split(header[len("# flags:") :])
    rendered = render_like_the_core_test(flags)
    # The header's quoting is the core's; compare everything after it exactly.
    assert rendered.split("\n", 1)[1] == text.split("\n", 1)[1]
