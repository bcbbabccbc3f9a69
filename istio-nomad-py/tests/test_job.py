"""Job: reading, rendering and validating Nomad jobs, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import istio_nomad
from istio_nomad import Job

from conftest import BROKEN, shared_data
from test_spec import read_expected

WEB: dict[str, Any] = {
    "ID": "web",
    "Name": "web",
    "Datacenters": ["dc1"],
    "TaskGroups": [
        {
            "Name": "api",
            "Count": 2,
            "Networks": [{"Mode": "bridge", "DynamicPorts": [{"Label": "http", "To": 8080}]}],
            "Services": [{"Name": "web", "PortLabel": "http"}],
            "Tasks": [{"Name": "app", "Driver": "docker", "Config": {"image": "nginx:1.27", "ports": ["http"]}}],
        }
    ],
}


def test_from_dict_and_accessors() -> None:
    job = Job.from_dict(WEB)
    assert job.id == "web"
    assert job.groups == ["api"]
    assert repr(job) == 'Job(id="web", groups=1)'
    job.validate()
    d = job.to_dict()
    assert d["TaskGroups"][0]["Count"] == 2
    assert d["TaskGroups"][0]["Tasks"][0]["Config"] == {"image": "nginx:1.27", "ports": ["http"]}
    assert d["TaskGroups"][0]["Networks"][0]["DynamicPorts"] == [{"Label": "http", "To": 8080}]


def test_json_forms() -> None:
    job = Job.from_dict(WEB)
    assert json.loads(job.to_json()) == job.to_dict()
    assert json.loads(job.to_register_json()) == {"Job": job.to_dict()}
    assert Job.from_json(job.to_json()) == job
    assert Job.from_json(job.to_register_json()) == job
    assert Job.from_dict({"Job": WEB}) == job
    assert job != Job.from_dict({"ID": "other"})
    assert job != 1


def test_nomad_api_example_round_trips() -> None:
    data = shared_data()
    assert data is not None
    job = Job.from_file(data / "nomad-api-example-job.json")
    assert (job.id, job.groups) == ("example", ["cache"])
    assert Job.from_dict(job.to_dict()) == job
    assert Job.from_json(job.to_register_json()) == job
    assert job.to_dict()["NodePool"] == "prod"


def test_from_file_str_and_path(tmp_path: Path) -> None:
    p = tmp_path / "web.json"
    p.write_text(json.dumps({"Job": WEB}))
    assert Job.from_file(p) == Job.from_file(str(p)) == Job.from_dict(WEB)


def test_validate_lists_every_problem_with_its_path() -> None:
    bad = json.loads(json.dumps(WEB))
    bad["Priority"] = 1000
    bad["TaskGroups"][0]["Services"][0]["PortLabel"] = "https"
    job = Job.from_dict(bad)  # reading does not validate
    with pytest.raises(istio_nomad.ValidationError) as ei:
        job.validate()
    paths = [p for p, _ in ei.value.errors]
    assert paths == ["job[web].priority", "job[web].group[api].service[0].port"]
    assert ei.value.errors[1] == ("job[web].group[api].service[0].port", "the port label is not defined in the group's network")


@pytest.mark.parametrize("fn", [Job.from_hcl, Job.from_json, Job.from_dict, Job.from_file])
@pytest.mark.parametrize("arg", [42, None, 2.5])
def test_wrong_python_types_raise_type_error(fn: Any, arg: Any) -> None:
    with pytest.raises(TypeError):
        fn(arg)


def test_wrong_value_type_names_the_api_path() -> None:
    with pytest.raises(istio_nomad.SpecError) as ei:
        Job.from_dict({"ID": "web", "TaskGroups": [{"Name": "a", "Count": "two"}]})
    assert ei.value.path == "TaskGroups[0].Count"
    # A dict is data, not JSON text: the error says "value" and has no line.
    assert str(ei.value) == 'invalid value in TaskGroups[0].Count: invalid type: string "two", expected i64'
    assert (ei.value.format, ei.value.line) == ("python", None)


def test_not_an_object() -> None:
    with pytest.raises(istio_nomad.SpecError, match="a job must be a JSON object"):
        Job.from_json("[1]")
    with pytest.raises(istio_nomad.SpecError, match="a job must be a JSON object"):
        Job.from_dict({"Job": 5})


def test_invalid_json_text() -> None:
    with pytest.raises(istio_nomad.SpecError) as ei:
        Job.from_json('{"ID": "web",\n "TaskGroups": [')
    assert ei.value.line == 2


def test_non_string_keys_in_job_dict() -> None:
    bad = json.loads(json.dumps(WEB))
    bad["TaskGroups"][0]["Tasks"][0]["Config"][7] = "x"
    with pytest.raises(istio_nomad.SpecError) as ei:
        Job.from_dict(bad)
    assert ei.value.path == "TaskGroups[0].Tasks[0].Config"
    assert str(ei.value) == "invalid value in TaskGroups[0].Tasks[0].Config: dict keys must be strings, got int 7"


def test_huge_strings() -> None:
    huge = "x" * 10_000_000
    with pytest.raises(istio_nomad.SpecError):
        Job.from_json(huge)
    job = Job.from_dict({"ID": "web", "Meta": {"blob": huge}})
    assert job.to_dict()["Meta"]["blob"] == huge
    with pytest.raises(istio_nomad.ValidationError) as ei:
        Job.from_dict({"ID": huge}).validate()
    # A pathologically long ID is not repeated in every path.
    assert ei.value.errors == [("job.group", "the job needs at least one group")]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(istio_nomad.MeshIOError) as ei:
        Job.from_file(tmp_path / "nope.json")
    assert ei.value.errno == 2


FAMILY_CLASS = {"parse": istio_nomad.SpecError, "validation": istio_nomad.ValidationError}
JSON_CASES = [r for r in read_expected() if r[0].startswith("job-") and r[0].endswith(".json")]
HCL_CASES = [r for r in read_expected() if r[0].startswith("job-") and r[0].endswith(".hcl")]


def check_broken(name: str, family: str, text: str) -> None:
    with pytest.raises(FAMILY_CLASS[family]) as ei:
        Job.from_file(BROKEN / name).validate()
    assert ei.value.family == family
    assert text in str(ei.value)
    if family == "validation":
        assert text in [p for p, _ in ei.value.errors]


@pytest.mark.parametrize(("name", "family", "text"), JSON_CASES)
def test_broken_json_job_corpus(name: str, family: str, text: str) -> None:
    check_broken(name, family, text)


@pytest.mark.parametrize(("name", "family", "text"), HCL_CASES)
def test_broken_hcl_job_corpus(name: str, family: str, text: str) -> None:
    check_broken(name, family, text)


def test_hcl_round_trip() -> None:
    job = Job.from_dict(WEB)
    hcl = job.to_hcl()
    assert hcl.startswith('job "web" {')
    assert Job.from_hcl(hcl) == job


def test_shared_jobspecs_read() -> None:
    data = shared_data()
    assert data is not None
    job = Job.from_file(data / "jobs" / "jobspec-basic.hcl")
    assert Job.from_hcl(job.to_hcl()) == job


def test_invalid_hcl() -> None:
    with pytest.raises(istio_nomad.SpecError) as ei:
        Job.from_hcl('job "web" {\n  group "api" {\n    count = \n}')
    assert ei.value.format == "hcl"


VARS_JOB = """
variable "image" { type = string }
variable "count" { default = 1 }
variable "tags" {
  type    = list(string)
  default = []
}
job "web" {
  group "g" {
    count = var.count
    service {
      name = "web"
      tags = var.tags
    }
    task "t" {
      driver = "docker"
      config { image = var.image }
    }
  }
}
"""


def test_hcl_variables_from_keywords_files_and_env(tmp_path: Path) -> None:
    var_file = tmp_path / "prod.vars.hcl"
    var_file.write_text('count = 4\ntags = ["file"]\n')
    job = Job.from_hcl(
        VARS_JOB,
        vars={"image": "nginx:1.27", "tags": ["a", "b"]},
        var_files=[var_file],
        env={"NOMAD_VAR_count": "2", "HOME": "/root"},
    )
    g = job.to_dict()["TaskGroups"][0]
    # count: environment < var file; tags: var file < vars; image: vars.
    assert g["Count"] == 4
    assert g["Services"][0]["Tags"] == ["a", "b"]
    assert g["Tasks"][0]["Config"] == {"image": "nginx:1.27"}

    path = tmp_path / "web.nomad.hcl"
    path.write_text(VARS_JOB)
    job = Job.from_file(path, env={"NOMAD_VAR_image": "i", "NOMAD_VAR_count": "3"})
    assert job.to_dict()["TaskGroups"][0]["Count"] == 3

    with pytest.raises(istio_nomad.SpecError) as e:
        Job.from_hcl(VARS_JOB)
    assert e.value.kind == "variable"
    assert e.value.path == "variable[image]"
    assert "NOMAD_VAR_image" in str(e.value)
    with pytest.raises(istio_nomad.SpecError) as e:
        Job.from_hcl(VARS_JOB, vars={"image": "x", "imgae": "y"})
    assert e.value.kind == "variable"
    assert e.value.path == "variable[imgae]"
    with pytest.raises(istio_nomad.SpecError) as e:
        Job.from_hcl(VARS_JOB, vars={"image": "x", "count": "three"})
    assert e.value.kind == "variable"
    assert e.value.path == "variable[count]"


def test_hcl_strictness_and_filesystem_keywords(tmp_path: Path) -> None:
    (tmp_path / "motd.txt").write_text("hello")
    path = tmp_path / "t.nomad.hcl"
    path.write_text(
        'job "t" {\n  group "g" {\n    task "t" {\n      driver = "docker"\n'
        '      kill_timout = "5s"\n      meta { motd = file("motd.txt") }\n    }\n  }\n}\n'
    )
    with pytest.raises(istio_nomad.SpecError) as e:
        Job.from_file(path)
    assert e.value.kind == "unknown_field"
    assert e.value.path == "job[t].group[g].task[t]"
    assert e.value.line == 5
    assert 'did you mean "kill_timeout"?' in str(e.value)
    with pytest.raises(istio_nomad.SpecError) as e:
        Job.from_file(path, allow_unknown=True)
    assert e.value.kind == "filesystem_not_allowed"
    task = Job.from_file(path, allow_unknown=True, allow_fs=True).to_dict()["TaskGroups"][0]["Tasks"][0]
    assert task["KillTimout"] == "5s"
    assert task["Meta"] == {"motd": "hello"}
