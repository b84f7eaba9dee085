"""`nimgen models` and `nimgen templates` as values (usecases.list_models, usecases.list_templates) and as text,
JSON and Markdown (report/catalog.py).

What the listings mean: the catalog's models, versions and profiles as the catalog files write them; for an
environment, the node pools each profile fits, which must be the answer a build gives when a workload pins that
profile on that pool (same fit, same reason); the gallery an environment sees, with its overrides merged as a
build merges them and the file each entry comes from; names that match nothing are refused with the known ones.

One repository for the module: environment `gpu` (an L40S pool of 4 per node and an H100 pool of 1 per node,
and workloads pinning profiles on each pool, some of which cannot run), `tmpl` (gallery overrides and entries of
its own, and one valid workload using them), `mirror` (an image mirror) and `plain` (the gallery as it is)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from meaning import (HEADER, ONE_GPU, add_datasource, add_environment, add_project, add_workload, bare_repo,
                     diagnostics_by_environment, errors, replicas)
from nimgen import usecases
from nimgen.diagnostics import BuildFailed
from nimgen.model import NodePool, Profile
from nimgen.report.catalog import (ExistingClaim, ListedModel, ListedProfile, ListedVersion, ModelListing, NewClaim,
                                   Origin, PoolFit, PoolMisfit, render_models, render_templates)
from nimgen.usecases import compile_all

L40S = {"name": "l40s", "gpu": {"product": "NVIDIA-L40S", "perNode": 4, "memory": "48Gi", "device": "26b9:10de"}}
H100 = {"name": "h100one", "gpu": {"product": "NVIDIA-H100-80GB-HBM3", "perNode": 1, "memory": "80Gi"}}
POOLS = ("l40s", "h100one")
MIRROR = "registry.example.com/nim-mirror"

LLAMA_8B, LLAMA_70B = "meta/llama-3.1-8b-instruct", "meta/llama-3.3-70b-instruct"
LLAMA_31_70B, FIPS = "meta/llama-3.1-70b-instruct", "1.14.0-pb5.5-stig-fips-x86-64"
# (model, version, profile): each pinned by name on each pool of environment gpu; between them every kind of
# reason a profile does not fit: another GPU, GPUs per node, GPU memory, a precision the GPU lacks
PINNED = [
    (LLAMA_8B, "1.1.2", "vllm-fp16-tp1"),                         # generic: fits both
    (LLAMA_8B, "1.1.2", "tensorrt_llm-l40s-bf16-tp2-latency"),    # L40S engine, 2 GPUs: l40s only
    (LLAMA_8B, "1.1.2", "tensorrt_llm-h100-fp8-tp1-throughput"),  # H100 engine: h100one only
    (LLAMA_70B, "2.0.3", "vllm-bf16-tp4"),                        # 4 GPUs of 47 GB: l40s only
    (LLAMA_70B, "2.0.3", "vllm-bf16-tp1"),                        # 174 GB on one GPU: neither
    (LLAMA_70B, "2.0.3", "vllm-nvfp4-tp2"),                       # nvfp4 needs Blackwell: neither
    (LLAMA_31_70B, FIPS, "vllm-bf16-tp2"),                        # 70 GB of weights per GPU (70B): neither
]

# the gallery entries this module adds to the fixture's (compute: h100-x1, h100-x2, l40s-x1, small; data sources:
# nim-cache, nim-cache-large)
SHARED_DATASOURCES = {"fast-cache": {"pvc": {"size": "50Gi", "storageClass": "fast-rwo", "accessMode": "ReadWriteOnce"}},
                      "weights-claim": {"existingClaim": "llama-weights"}}
OVERRIDES = {   # environment tmpl: relative path -> document
    "templates/compute/small.yaml": ("ComputeTemplate", "small", {"cpu": "6"}),
    "templates/datasources/nim-cache.yaml": ("DataSource", "nim-cache", {"existingClaim": "team-cache"}),
    "templates/compute/mig-slice.yaml": ("ComputeTemplate", "mig-slice", {"migProfile": "1g.10gb", "cpu": "2", "memory": "8Gi"}),
    "templates/compute/half.yaml": ("ComputeTemplate", "half", {"gpuFraction": 0.5, "cpu": "2", "memory": "16Gi"}),
}


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _pinned_name(i: int, pool: str) -> str:
    return f"pin-{i}-{pool}"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("listing") / "repo")
    for name, spec in SHARED_DATASOURCES.items():
        add_datasource(root, name, spec)
    add_environment(root, "gpu", {"nodePools": [L40S, H100]})
    add_project(root, "gpu", "team", {"gpus": 64})
    for i, (model, version, profile) in enumerate(PINNED):
        for pool in POOLS:
            add_workload(root, "gpu", "team", _pinned_name(i, pool),
                         {**ONE_GPU, "model": {"nim": model, "version": version}, "profile": {"name": profile},
                          "scheduling": {"nodePools": [pool]}, "scaling": replicas(1)})
    # a workload file the schema refuses: its environment does not build, its catalog and pools still list
    add_workload(root, "gpu", "team", "broken", {**ONE_GPU, "scaling": {"minReplicas": "many"}})
    add_environment(root, "tmpl", {})
    for relpath, (kind, name, spec) in OVERRIDES.items():
        _write(root / "environments" / "tmpl" / relpath, {**HEADER, "kind": kind, "metadata": {"name": name}, "spec": spec})
    add_project(root, "tmpl", "team", {"gpus": 8})
    add_workload(root, "tmpl", "team", "sized", {**ONE_GPU, "compute": {"template": "small"}, "scaling": replicas(1)})
    add_environment(root, "mirror", {"images": {"mirror": MIRROR}})
    add_environment(root, "plain", {})
    return root


def catalog_file(root: Path, model: str) -> dict[str, Any]:
    return yaml.safe_load((root / "templates" / "models" / (model.replace("/", "--") + ".yaml")).read_text())


def listed_profile(listing: ModelListing, model: str, version: str, name: str) -> ListedProfile:
    entry = next(m for m in listing.models if m.name == model)
    found = next(v for v in entry.versions if v.version == version)
    return next(p for p in found.profiles if p.profile.name == name)


# -- the catalog, as its files write it


def test_every_catalog_model_is_listed_by_name_with_its_versions_in_catalog_order(root: Path):
    listing = usecases.list_models(root)
    files = sorted((root / "templates" / "models").glob("*.yaml"))
    written = {d["metadata"]["name"]: d for d in (yaml.safe_load(f.read_text()) for f in files)}
    assert [m.name for m in listing.models] == sorted(written)
    for m in listing.models:
        assert [v.version for v in m.versions] == [str(v["version"]) for v in written[m.name]["spec"]["versions"]]
        assert m.repository == written[m.name]["spec"]["image"]
        assert m.parameters_billions == written[m.name]["spec"]["parametersBillions"]
    assert listing.environment is None and listing.pools == () and listing.model is None


def test_a_profile_lists_the_catalog_fields_and_its_download_size(root: Path):
    listing = usecases.list_models(root, LLAMA_8B)
    assert [m.name for m in listing.models] == [LLAMA_8B] and listing.model == LLAMA_8B
    spec = catalog_file(root, LLAMA_8B)["spec"]
    sizes = {"GB": 10**9, "MB": 10**6, "TB": 10**12}
    for version in spec["versions"]:
        listed = next(v for v in listing.models[0].versions if v.version == version["version"])
        assert listed.image == f"{spec['image']}:{version['version']}"
        assert [(p.profile.name, p.profile.id, p.profile.engine, p.profile.precision, p.profile.gpu, p.profile.tp,
                 p.profile.pp, p.profile.lora, p.profile.objective, p.profile.download_bytes) for p in listed.profiles] \
            == [(p["name"], p["id"], p["engine"], p["precision"], p.get("gpu"), p["tp"], p["pp"], p["lora"],
                 p.get("objective"), round(float(p["downloadSize"][:-2]) * sizes[p["downloadSize"][-2:]])
                 if "downloadSize" in p else None) for p in version["profiles"]]
        assert all(p.fit is None for p in listed.profiles)      # no environment: no pool to fit


# -- with an environment: the answer a build gives


def test_each_profile_fits_exactly_the_pools_a_build_accepts_it_on_and_gives_the_builds_reason(root: Path):
    listing = usecases.list_models(root, env="gpu")
    assert [p.name for p in listing.pools] == list(POOLS)
    build = errors(diagnostics_by_environment(root, ["gpu", "tmpl", "mirror", "plain"]), "gpu")
    refused: dict[str, list[str]] = {}
    for d in build:
        refused.setdefault(Path(d.file).stem, []).append(d.message)
    seen_fit = seen_misfit = 0
    for i, (model, version, name) in enumerate(PINNED):
        fit = listed_profile(listing, model, version, name).fit
        assert fit is not None
        assert set(fit.fits) | {m.pool for m in fit.misfits} == set(POOLS)
        for pool in fit.fits:
            assert _pinned_name(i, pool) not in refused, f"{name} listed as fitting {pool}, a build refuses it"
            seen_fit += 1
        for misfit in fit.misfits:
            messages = refused.get(_pinned_name(i, misfit.pool), [])
            assert f"profile {name} cannot run on node pool '{misfit.pool}': {misfit.reason}" in messages, messages
            seen_misfit += 1
    assert seen_fit >= 4 and seen_misfit >= 6                       # both answers are exercised


def test_the_fit_follows_the_pools_gpu_its_gpus_per_node_and_memory(root: Path):
    listing = usecases.list_models(root, env="gpu")
    generic = listed_profile(listing, LLAMA_8B, "1.1.2", "vllm-fp16-tp1").fit
    assert generic == PoolFit(POOLS, ())
    l40s_engine = listed_profile(listing, LLAMA_8B, "1.1.2", "tensorrt_llm-l40s-bf16-tp2-latency").fit
    assert l40s_engine is not None and l40s_engine.fits == ("l40s",)
    assert "optimized for L40S" in l40s_engine.misfits[0].reason
    four = listed_profile(listing, LLAMA_70B, "2.0.3", "vllm-bf16-tp4").fit
    assert four is not None and four.fits == ("l40s",)
    assert four.misfits == (PoolMisfit("h100one", "needs 4 GPUs per replica, pool 'h100one' has 1 per node"),)
    big = listed_profile(listing, LLAMA_70B, "2.0.3", "vllm-bf16-tp1").fit
    assert big is not None and big.fits == ()
    assert all("needs 174 GB per GPU" in m.reason for m in big.misfits)
    heavy = listed_profile(listing, LLAMA_31_70B, FIPS, "vllm-bf16-tp2").fit
    assert heavy is not None and heavy.fits == ()
    assert heavy.misfits[0].pool == "l40s" and heavy.misfits[0].reason.startswith("weights need ~70 GB per GPU at bf16/tp2")


def test_a_broken_workload_does_not_stop_the_listing(root: Path):
    with pytest.raises(BuildFailed) as raised:
        compile_all(root, ["gpu"], render=False)          # the pinned profiles that cannot run, the broken file
    assert "environments/gpu/workloads/broken.yaml" in {d.file for d in raised.value.diagnostics}
    assert usecases.list_models(root, LLAMA_8B, "gpu").environment == "gpu"
    assert usecases.list_templates(root, "gpu").environment == "gpu"


def test_an_environment_mirror_changes_the_image_listed_not_the_profiles(root: Path):
    mirrored = usecases.list_models(root, LLAMA_8B, "mirror").models[0]
    plain = usecases.list_models(root, LLAMA_8B).models[0]
    assert [v.image for v in mirrored.versions] == [f"{MIRROR}/meta/llama-3.1-8b-instruct:{v.version}"
                                                     for v in plain.versions]
    assert [[p.profile for p in v.profiles] for v in mirrored.versions] == \
        [[p.profile for p in v.profiles] for v in plain.versions]


# -- names that match nothing


def test_an_unknown_model_names_the_close_one_and_the_known_ones(root: Path):
    with pytest.raises(usecases.NotFound) as raised:
        usecases.list_models(root, "meta/llama-3.1-8b")
    message = str(raised.value)
    assert "unknown model 'meta/llama-3.1-8b'" in message and "did you mean 'meta/llama-3.1-8b-instruct'?" in message
    assert "known: " + ", ".join(m.name for m in usecases.list_models(root).models) in message
    with pytest.raises(usecases.NotFound, match="known: meta/llama-3.1-70b-instruct, ") as far:
        usecases.list_models(root, "zzz", "gpu")
    assert "did you mean" not in str(far.value)


@pytest.mark.parametrize("call", [lambda root: usecases.list_models(root, env="gpux"),
                                  lambda root: usecases.list_templates(root, "gpux")])
def test_an_unknown_environment_names_the_close_one_and_the_known_ones(root: Path, call):
    with pytest.raises(usecases.NotFound) as raised:
        call(root)
    assert str(raised.value) == ("unknown environment 'gpux': did you mean 'gpu'? known: gpu, mirror, plain, tmpl")


def test_a_long_list_of_known_names_is_cut_short(tmp_path: Path):
    root = bare_repo(tmp_path / "repo")
    for i in range(25):
        add_environment(root, f"env-{i:02}", {})
    with pytest.raises(usecases.NotFound) as raised:
        usecases.list_templates(root, "zzz")
    assert str(raised.value) == ("unknown environment 'zzz': known: "
                                 + ", ".join(f"env-{i:02}" for i in range(20)) + " and 5 more")


def test_a_catalog_or_gallery_error_fails_the_listing_with_the_problem(tmp_path: Path):
    root = bare_repo(tmp_path / "repo")
    add_environment(root, "plain", {})
    add_datasource(root, "broken", {"pvc": {"size": "lots"}})
    with pytest.raises(BuildFailed) as raised:
        usecases.list_templates(root, "plain")
    assert [d.file for d in raised.value.diagnostics] == ["templates/datasources/broken.yaml"]
    model = root / "templates" / "models" / "meta--llama3-8b-instruct.yaml"
    model.write_text(model.read_text().replace("engine: vllm", "engine: 7", 1))
    with pytest.raises(BuildFailed) as models:
        usecases.list_models(root)
    assert "templates/models/meta--llama3-8b-instruct.yaml" in {d.file for d in models.value.diagnostics}


def test_an_environment_a_build_refuses_fails_the_fit_listing_with_the_problem(tmp_path: Path):
    root = bare_repo(tmp_path / "repo")
    add_environment(root, "twice", {"nodePools": [L40S, L40S]})
    with pytest.raises(BuildFailed) as raised:
        usecases.list_models(root, LLAMA_8B, "twice")
    assert [(d.file, d.message) for d in raised.value.diagnostics] == \
        [("environments/twice/environment.yaml", "duplicate node pool 'l40s'")]


# -- the gallery an environment sees


def test_an_environment_without_overrides_sees_the_shared_gallery_as_written(root: Path):
    listing = usecases.list_templates(root, "plain")
    compute_files = sorted((root / "templates" / "compute").glob("*.yaml"))
    written = {d["metadata"]["name"]: (d["spec"], f) for f in compute_files for d in [yaml.safe_load(f.read_text())]}
    assert [c.name for c in listing.compute] == sorted(written)
    for c in listing.compute:
        spec, file = written[c.name]
        assert (c.origin, c.file, c.overrides) == (Origin.GALLERY, f"templates/compute/{file.name}", None)
        assert (c.gpus, c.gpu_product, c.cpu, c.memory, c.shared_memory) == \
            (spec.get("gpus"), spec.get("gpuProduct"), spec.get("cpu"), spec.get("memory"), spec.get("sharedMemory"))
    sources = {d.name: d for d in listing.datasources}
    assert sources["fast-cache"].source == NewClaim("50Gi", "fast-rwo", "ReadWriteOnce")
    assert sources["nim-cache"].source == NewClaim("100Gi", None, None)
    assert sources["weights-claim"].source == ExistingClaim("llama-weights")
    assert all(d.origin is Origin.GALLERY for d in listing.datasources)


def test_overrides_are_marked_with_their_file_and_merged_as_a_build_merges_them(root: Path):
    listing = usecases.list_templates(root, "tmpl")
    compute = {c.name: c for c in listing.compute}
    small = compute["small"]
    assert (small.origin, small.file, small.overrides) == \
        (Origin.OVERRIDE, "environments/tmpl/templates/compute/small.yaml", "templates/compute/small.yaml")
    assert (small.cpu, small.memory) == ("6", "32Gi")           # the override's cpu, the shared memory
    # a build of a workload on the template gets what the listing says
    sized = next(w for w in compile_all(root, ["tmpl"], render=False).resolved["tmpl"].workloads if w.name == "sized")
    assert (sized.compute.cpu, sized.compute.memory) == (small.cpu, small.memory)
    cache = next(d for d in listing.datasources if d.name == "nim-cache")
    assert (cache.origin, cache.overrides, cache.source) == \
        (Origin.OVERRIDE, "templates/datasources/nim-cache.yaml", ExistingClaim("team-cache"))   # spec replaced
    assert compute["h100-x1"].origin is Origin.GALLERY


def test_entries_only_an_environment_declares_are_its_own_with_their_mig_slice_or_share(root: Path):
    compute = {c.name: c for c in usecases.list_templates(root, "tmpl").compute}
    mig, half = compute["mig-slice"], compute["half"]
    assert (mig.origin, mig.file, mig.overrides) == \
        (Origin.ENVIRONMENT, "environments/tmpl/templates/compute/mig-slice.yaml", None)
    assert (mig.mig_profile, mig.gpu_fraction, half.gpu_fraction, half.mig_profile) == ("1g.10gb", None, 0.5, None)
    assert "mig-slice" not in {c.name for c in usecases.list_templates(root, "plain").compute}


# -- renderers


def columns(lines: list[str], header: str) -> list[dict[str, str]]:
    """The rows of an aligned text table below `header`, cut at the header's column starts."""
    heads = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", header)]
    rows = []
    for line in lines:
        cells = {}
        for i, (start, name) in enumerate(heads):
            end = heads[i + 1][0] if i + 1 < len(heads) else None
            cells[name] = line[start:end].strip()
            if end is not None:       # aligned: every cell but the last ends in padding before the next column
                assert line[end - 2:end] == "  " or len(line) < end, f"column {name} not aligned in {line!r}"
        rows.append(cells)
    return rows


def test_text_lists_each_profile_in_aligned_columns_with_the_pools_it_fits(root: Path):
    listing = usecases.list_models(root, LLAMA_8B, "gpu")
    text = render_models(listing, "text").splitlines()
    assert text[0] == ("environment gpu: node pools l40s (NVIDIA-L40S x4, 48Gi), "
                       "h100one (NVIDIA-H100-80GB-HBM3 x1, 80Gi)")
    start = text.index("  version 1.1.2: 8 profiles, image nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2")
    header = text[start + 1]
    assert header.split() == ["NAME", "ID", "ENGINE", "PRECISION", "GPU", "TP", "PP", "LORA", "OBJECTIVE", "DOWNLOAD",
                              "FITS", "DOES", "NOT", "FIT"]
    rows = {r["NAME"]: r for r in columns(text[start + 2:start + 10], header)}
    version = next(v for v in listing.models[0].versions if v.version == "1.1.2")
    assert set(rows) == {p.profile.name for p in version.profiles}
    for p in version.profiles:
        row = rows[p.profile.name]
        assert p.fit is not None
        assert row["ID"] == (p.profile.id or "")[:12] and row["GPU"] == (p.profile.gpu or "any")
        assert row["TP"] == str(p.profile.tp) and row["LORA"] == ("yes" if p.profile.lora else "no")
        assert row["FITS"] == (", ".join(p.fit.fits) or "none")
        assert row["DOES NOT FIT"] == ("; ".join(f"{m.pool}: {m.reason}" for m in p.fit.misfits) or "-")
    newer = columns([line for line in text if "tensorrt_llm-h100-bf16-tp1-throughput " in line][1:2],
                    text[text.index("  version 1.13.1: 54 profiles, image nvcr.io/nim/meta/llama-3.1-8b-instruct:1.13.1") + 1])
    assert newer[0]["DOWNLOAD"] == "16GB"


def test_text_without_a_model_summarises_each_version_and_counts_the_profiles_that_fit_each_pool(root: Path):
    listing = usecases.list_models(root, env="gpu")
    text = render_models(listing, "text").splitlines()
    header = text[1]
    assert header.split() == ["MODEL", "VERSION", "PROFILES", "FIT", "PER", "POOL", "GPUS"]
    rows = columns(text[2:-1], header)
    versions = [(m, v) for m in listing.models for v in m.versions]
    assert len(rows) == len(versions)
    for row, (m, v) in zip(rows, versions):
        assert row["MODEL"] in ("", m.name) and row["VERSION"] == v.version and row["PROFILES"] == str(len(v.profiles))
        counts = ", ".join(f"{pool} {sum(1 for p in v.profiles if p.fit and pool in p.fit.fits)}" for pool in POOLS)
        assert row["FIT PER POOL"] == counts
    assert text[-1] == "(nimgen models MODEL lists a model's profiles)"


def test_json_holds_every_profile_field_and_fit_with_sorted_keys(root: Path):
    listing = usecases.list_models(root, LLAMA_70B, "gpu")
    text = render_models(listing, "json")
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"     # stable
    assert text == render_models(usecases.list_models(root, LLAMA_70B, "gpu"), "json")
    assert (data["environment"], data["model"]) == ("gpu", LLAMA_70B)
    assert [p["name"] for p in data["pools"]] == list(POOLS)
    profiles = {(v["version"], p["name"]): p for v in data["models"][0]["versions"] for p in v["profiles"]}
    for version in listing.models[0].versions:
        for listed in version.profiles:
            p, fit = profiles[(version.version, listed.profile.name)], listed.fit
            assert fit is not None
            assert (p["id"], p["engine"], p["precision"], p["tp"], p["pp"], p["lora"], p["objective"],
                    p["download_bytes"]) == (listed.profile.id, listed.profile.engine, listed.profile.precision,
                                             listed.profile.tp, listed.profile.pp, listed.profile.lora,
                                             listed.profile.objective, listed.profile.download_bytes)
            assert p["gpu"] == (listed.profile.gpu or "any")
            assert p["fits"] == list(fit.fits)
            assert p["does_not_fit"] == [{"pool": m.pool, "reason": m.reason} for m in fit.misfits]
    assert profiles[("2.0.3", "vllm-bf16-tp4")]["download_size"] == "132GB"


def test_json_without_an_environment_has_no_fit(root: Path):
    data = json.loads(render_models(usecases.list_models(root, LLAMA_8B), "json"))
    assert data["environment"] is None and data["pools"] == []
    assert all("fits" not in p for v in data["models"][0]["versions"] for p in v["profiles"])


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table: rows of cells (the separator row left out), split on unescaped pipes."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] | None = None
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if current is None:
                current = []
                tables.append(current)
            if not all(set(c) <= {"-"} and c for c in cells):
                current.append(cells)
        else:
            current = None
    return tables


def test_markdown_is_a_table_per_version_whose_rows_hold_the_profiles(root: Path):
    listing = usecases.list_models(root, LLAMA_8B, "gpu")
    text = render_models(listing, "markdown")
    pools, *versions = markdown_tables(text)
    assert pools[1:] == [["l40s", "NVIDIA-L40S", "4", "48Gi"], ["h100one", "NVIDIA-H100-80GB-HBM3", "1", "80Gi"]]
    assert len(versions) == len(listing.models[0].versions)
    for table, version in zip(versions, listing.models[0].versions):
        header, *rows = table
        assert header[0] == "name" and header[-2:] == ["fits", "does not fit"]
        assert [r[0] for r in rows] == [p.profile.name for p in version.profiles]
        assert all(len(r) == len(header) for r in rows)
        for row, p in zip(rows, version.profiles):
            assert p.fit is not None and row[-2] == (", ".join(p.fit.fits) or "none")
    assert "### 1.13.1" in text


def test_markdown_escapes_a_pipe_so_a_cell_stays_one_cell():
    profile = Profile(name="odd|name", engine="vllm", precision="fp16", tp=1, pp=1, lora=False)
    listing = ModelListing((ListedModel("x/y", "nvcr.io/nim/x/y", None, "templates/models/x.yaml",
                                        (ListedVersion("1", "nvcr.io/nim/x/y:1", (ListedProfile(profile),)),)),), "x/y")
    (table,) = markdown_tables(render_models(listing, "markdown"))
    assert table[1][0] == "odd|name" and len(table[1]) == len(table[0])


def test_templates_text_marks_overrides_and_their_files_in_aligned_columns(root: Path):
    text = render_templates(usecases.list_templates(root, "tmpl"), "text").splitlines()
    assert text[0] == "environment tmpl: 6 compute templates, 4 data sources"
    top = text.index("compute templates:")
    compute = {r["NAME"]: r for r in columns(text[top + 2:top + 8], text[top + 1])}
    assert compute["small"]["ORIGIN"] == "override"
    assert compute["small"]["FILE"] == "environments/tmpl/templates/compute/small.yaml (over templates/compute/small.yaml)"
    assert (compute["small"]["CPU"], compute["small"]["MEMORY"], compute["small"]["GPUS"]) == ("6", "32Gi", "-")
    assert compute["mig-slice"]["MIG/SHARE"] == "MIG 1g.10gb" and compute["half"]["MIG/SHARE"] == "0.5 of a GPU"
    assert compute["mig-slice"]["ORIGIN"] == "environment"
    assert compute["h100-x1"]["PRODUCT"] == "NVIDIA-H100-80GB-HBM3" and compute["h100-x1"]["SHM"] == "8Gi"
    ds = text.index("data sources:")
    sources = {r["NAME"]: r for r in columns(text[ds + 2:ds + 6], text[ds + 1])}
    assert sources["nim-cache"]["SOURCE"] == "claim team-cache" and sources["nim-cache"]["ORIGIN"] == "override"
    assert (sources["fast-cache"]["SIZE"], sources["fast-cache"]["CLASS"], sources["fast-cache"]["ACCESS MODE"]) == \
        ("50Gi", "fast-rwo", "ReadWriteOnce")


def test_templates_json_and_markdown_hold_the_same_entries(root: Path):
    listing = usecases.list_templates(root, "tmpl")
    text = render_templates(listing, "json")
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    small = next(c for c in data["compute"] if c["name"] == "small")
    assert (small["origin"], small["overrides"], small["cpu"]) == ("override", "templates/compute/small.yaml", "6")
    sources = {d["name"]: d for d in data["datasources"]}
    assert sources["nim-cache"]["existing_claim"] == "team-cache" and sources["nim-cache"]["pvc"] is None
    assert sources["fast-cache"]["pvc"] == {"size": "50Gi", "storage_class": "fast-rwo", "access_mode": "ReadWriteOnce"}
    compute, datasources = markdown_tables(render_templates(listing, "markdown"))
    assert [r[0] for r in compute[1:]] == [c.name for c in listing.compute]
    assert [r[0] for r in datasources[1:]] == [d.name for d in listing.datasources]
    assert all(len(r) == len(compute[0]) for r in compute) and all(len(r) == len(datasources[0]) for r in datasources)


def test_an_unknown_format_is_refused(root: Path):
    with pytest.raises(ValueError, match="unknown format 'yaml'"):
        render_models(usecases.list_models(root, LLAMA_8B), "yaml")
    with pytest.raises(ValueError, match="unknown format 'html'"):
        render_templates(usecases.list_templates(root, "plain"), "html")


def test_download_sizes_print_as_the_registry_does():
    from nimgen.report.catalog import size_text
    assert [size_text(n) for n in (None, 16 * 10**9, 9_500_000_000, 1_200_000_000_000, 512 * 10**6)] == \
        ["-", "16GB", "9.5GB", "1.2TB", "512MB"]


def test_a_pool_without_gpu_memory_is_shown_without_it():
    listing = ModelListing((), None, "e", (NodePool("a", "NVIDIA-A10G", 2),))
    assert render_models(listing, "text").splitlines()[0] == "environment e: node pools a (NVIDIA-A10G x2)"
