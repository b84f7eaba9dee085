"""Tests of GPU matching and NIM profile selection (generator/profiles.py), on real NIM profile data.

Fixtures: the 8 profiles of nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2 as `list-model-profiles` prints them
(tags read from the names, pp 1), and rows of meta/llama-3.1-70b-instruct 1.14.0 / 1.14.0-pb5.5-stig-fips-x86-64
and meta/llama-3.3-70b-instruct 2.0.3 from shared/nim-profiles.yaml (ids and tags copied; that file has no
readable names, so names are composed from the tags the way NIM 1.x names its profiles).
"""

from __future__ import annotations

import random

import pytest

from nimgen.model import Profile, Rejection
from nimgen.resolve.gpus import Pool, gpu_matches, normalise_gpu_name
from nimgen.resolve.profiles import (
    BYTES_PER_PARAM,
    PRECISION_ORDER,
    check_profile,
    incompatibility,
    select_profile,
    sort_key,
)

# --- llama-3.1-8b-instruct 1.1.2 ---------------------------------------------------------------------------------


def trt(name, id, gpu, precision, tp, objective, lora=False, **extra):
    return Profile(name=name, id=id, engine="tensorrt_llm", gpu=gpu, precision=precision, tp=tp, pp=1,
                   objective=objective, lora=lora, **extra)


L40S_BF16_TP2_LAT = trt("tensorrt_llm-l40s-bf16-tp2-latency",
                        "0494aafce0df9eeaea49bbca6b25fc3013d0e8a752ebcf191a2ddeaab19481ee", "l40s", "bf16", 2,
                        "latency")
L40S_BF16_TP1_THR = trt("tensorrt_llm-l40s-bf16-tp1-throughput",
                        "3807be802a8ab1d999bf280c96dcd8cf77ac44c0a4d72edb9083f0abb89b6a19", "l40s", "bf16", 1,
                        "throughput")
H100_FP8_TP1_THR = trt("tensorrt_llm-h100-fp8-tp1-throughput",
                       "2959f7f0dfeb14631352967402c282e904ff33e1d1fa015f603d9890cf92ca0f", "h100", "fp8", 1,
                       "throughput")
H100_BF16_TP1_THR = trt("tensorrt_llm-h100-bf16-tp1-throughput",
                        "9cff0915527166b2e93c08907afd4f74e168562992034a51db00df802e86518c", "h100", "bf16", 1,
                        "throughput")
H100_BF16_TP1_THR_LORA = trt("tensorrt_llm-h100-bf16-tp1-throughput-lora",
                             "40543df47628989c7ef5b16b33bd1f55165dddeb608bf3ccb56cdbb496ba31b0", "h100", "bf16", 1,
                             "throughput", lora=True)
A100_BF16_TP1_THR = trt("tensorrt_llm-a100-bf16-tp1-throughput",
                        "7ea3369b85d7aee24e0739df829da8832b6873803d5f5aca490edad7360830c8", "a100", "bf16", 1,
                        "throughput")
VLLM_FP16_TP1 = Profile(name="vllm-fp16-tp1", id="3bb4e8fe78e5037b05dd618cebb1053347325ad6a1e709e0eb18bb8558362ac5",
                        engine="vllm", precision="fp16", tp=1, pp=1, lora=False)
VLLM_FP16_TP1_LORA = Profile(name="vllm-fp16-tp1-lora",
                             id="dfd9bee71abb7582246f7fb8c2aedd9119909b9639e1b4b0260ef6865545ede7",
                             engine="vllm", precision="fp16", tp=1, pp=1, lora=True)

LLAMA_8B_112 = (L40S_BF16_TP2_LAT, L40S_BF16_TP1_THR, H100_FP8_TP1_THR, H100_BF16_TP1_THR, H100_BF16_TP1_THR_LORA,
                A100_BF16_TP1_THR, VLLM_FP16_TP1, VLLM_FP16_TP1_LORA)

# --- llama-3.1-70b-instruct (1.14.0 and its stig-fips release) and llama-3.3-70b-instruct 2.0.3 --------------------


def row(id, engine, precision, tp, gpu=None, gpu_device=None, objective=None, min_vram_gb=None):
    """A nim-profiles.yaml row; the name follows NIM 1.x naming (engine-gpu-precision-tpN-objective)."""
    parts = [engine] + ([gpu.lower()] if gpu else []) + [precision, f"tp{tp}"] + ([objective] if objective else [])
    return Profile(name="-".join(parts), id=id, engine=engine, precision=precision, tp=tp, pp=1, lora=False,
                   gpu=gpu, gpu_device=gpu_device, objective=objective, min_vram_gb=min_vram_gb)


H100_70B_FP8_TP2_THR = row("4fbe63c3f6f9b928dac05fe81a278ac1ad45ccf329850f66bd6cbc0c2f2c044c", "tensorrt_llm", "fp8", 2,
                           "H100", "2330:10de", "throughput")
H100_70B_BF16_TP4_THR = row("4d9f79288ba78fd61b3cc445c6f9da30362a132ea371798a8ec3dff7bddc3a20", "tensorrt_llm", "bf16",
                            4, "H100", "2330:10de", "throughput")
H100_70B_FP8_TP4_LAT = row("9078b6b41878fcfd7e5e9dca2ea0b5c5560d85d31e2cbb9e0e9801d2bb192bfe", "tensorrt_llm", "fp8", 4,
                           "H100", "2330:10de", "latency")
H100_70B_BF16_TP8_LAT = row("59abf41783657f9098f306b2ab94f94ecfce1e178e6ab504550af7ff44671684", "tensorrt_llm",
                            "bf16", 8, "H100", "2330:10de", "latency")
NVL_70B_FP8_TP2_THR = row("44d44ef91639f0c76a1ef4be0022651ed8d42b485c26de00ba99aee570d1768d", "tensorrt_llm", "fp8", 2,
                          "H100_NVL", "2321:10de", "throughput")
NVL_70B_BF16_TP2_THR = row("3684471ad5d007fa1f72bbc672a794107de7b0e8df88214dc1563a24aa99c8b7", "tensorrt_llm", "bf16",
                           2, "H100_NVL", "2321:10de", "throughput")
A100_70B_BF16_TP4_THR = row("68aff19a2e5198624143bf25060662c863ecf21039b6f2d4ef3fe7965a8bab96", "tensorrt_llm",
                            "bf16", 4, "A100", "20b2:10de", "throughput")
A100_40GB_70B_BF16_TP8_THR = row("2fdeceaf1b64acf3ab1c2a22b8e23f6c25d639d6a5d7006c51c80b613fb2699b", "tensorrt_llm",
                                 "bf16", 8, "A100_SXM4_40GB", "20b0:10de", "throughput")
L40S_70B_FP8_TP4_THR = row("3013dcf9b905cbd2f5e23f804fd5d66d183ddc71a8735631d3cad277f7c23897", "tensorrt_llm", "fp8", 4,
                           "L40S", "26b9:10de", "throughput")
GH200_144_70B_FP8_TP1_THR = row("5fbbcbeb676751bfdc9b65cca39334f82fbe543070ea66b4756f71de6cfe2b59", "tensorrt_llm",
                                "fp8", 1, "GH200_144GB", "2348:10de", "throughput")
VLLM_70B_BF16_TP2 = row("fc40ff7cc1ebbe459322adbf18e3fe858a2e65aae3f81a0921f83dccbcfde71e", "vllm", "bf16", 2)
VLLM_70B_BF16_TP4 = row("7c42ae2590667fd28839c8121dfdc31796228a991645831b28f105e9bc137d72", "vllm", "bf16", 4)
VLLM_70B_BF16_TP8 = row("c78884603b87c9c52161bf59d8ca93c7ae2ccc46bcf8132826ebd1e2b30da325", "vllm", "bf16", 8)
# llama-3.3-70b-instruct 2.0.3: generic vLLM profiles that carry min_vram_per_device_gb.
VLLM33_BF16_TP1 = row("120f37d15ce21955b951e9acef346dcdcc0ebb17b9e09c1eef15e803a8b87665", "vllm", "bf16", 1,
                      min_vram_gb=174)
VLLM33_FP8_TP1 = row("ea45ff5a22cd15dc8aefe3ea86c3361058ea7a73e36d3f70185a2a1253274377", "vllm", "fp8", 1,
                     min_vram_gb=111)
VLLM33_FP8_TP2 = row("74dc099acf027ca44ed08bf7f182582f4f20bef8c9be768908a3a11f55a4803d", "vllm", "fp8", 2,
                     min_vram_gb=57)

LLAMA_70B = (H100_70B_FP8_TP2_THR, H100_70B_BF16_TP4_THR, H100_70B_FP8_TP4_LAT, H100_70B_BF16_TP8_LAT,
             NVL_70B_FP8_TP2_THR, NVL_70B_BF16_TP2_THR, A100_70B_BF16_TP4_THR, A100_40GB_70B_BF16_TP8_THR,
             L40S_70B_FP8_TP4_THR, GH200_144_70B_FP8_TP1_THR, VLLM_70B_BF16_TP2, VLLM_70B_BF16_TP4, VLLM_70B_BF16_TP8,
             VLLM33_BF16_TP1)

# --- pools ----------------------------------------------------------------------------------------------------------

H100 = Pool(name="h100", product="NVIDIA-H100-80GB-HBM3", per_node=8, memory_gb=80)
L40S = Pool(name="l40s", product="NVIDIA-L40S", per_node=4, memory_gb=48)
A100 = Pool(name="a100", product="NVIDIA-A100-SXM4-80GB", per_node=8, memory_gb=80)
A100_40 = Pool(name="a100-40", product="NVIDIA-A100-SXM4-40GB", per_node=8, memory_gb=40)
H100_NVL = Pool(name="nvl", product="NVIDIA-H100-NVL", per_node=8, memory_gb=94)


def reasons(selection):
    return {r.profile.name: r.reason for r in selection.rejected}


def rejection_of(selection, profile):
    (found,) = [r for r in selection.rejected if r.profile == profile]
    return found


# --- GPU names -------------------------------------------------------------------------------------------------


def test_normalise_gpu_name_uppercases_splits_on_all_separators_and_drops_nvidia():
    assert normalise_gpu_name("NVIDIA H100_80gb-HBM3") == ("H100", "80GB", "HBM3")
    assert normalise_gpu_name("h100_nvl") == ("H100", "NVL")
    # GH200's product says 144G; spelled like the tag's 144GB so the two compare.
    assert normalise_gpu_name("NVIDIA GH200 144G HBM3e") == ("GH200", "144GB", "HBM3E")
    assert normalise_gpu_name("  ") == ()


@pytest.mark.parametrize(
    "tag, product, expected",
    [
        ("H100", "NVIDIA-H100-80GB-HBM3", True),
        ("H100", "NVIDIA-H100-SXM4-80GB", True),
        ("h100", "NVIDIA-H100-80GB-HBM3", True),  # NIM's own manifests spell tags in lower case
        ("H100", "NVIDIA-H100-PCIe", True),
        ("H100", "NVIDIA-H100-NVL", False),  # NVL is a different product, not a form factor
        ("H100_NVL", "NVIDIA-H100-NVL", True),
        ("A100", "NVIDIA-A100-SXM4-80GB", True),
        ("A100_SXM4_40GB", "NVIDIA-A100-SXM4-80GB", False),  # the 40GB token conflicts
        ("A100_SXM4_40GB", "NVIDIA-A100-SXM4-40GB", True),
        ("A100_SXM4_40GB", "NVIDIA-A100-PCIE-40GB", False),  # SXM4 is in the tag, not in the product
        ("L40S", "NVIDIA-L40S", True),
        ("L40", "NVIDIA-L40S", False),
        ("L40S", "NVIDIA-L40", False),
        ("A10G", "NVIDIA-A10G", True),
        ("A10", "NVIDIA-A10G", False),
        ("A10G", "NVIDIA-A10", False),
        ("GH200_144GB", "NVIDIA-GH200-144G-HBM3e", True),
        ("GH200_480GB", "NVIDIA-GH200-144G-HBM3e", False),
        ("GH200_480GB", "NVIDIA-GH200-480GB", True),
        ("H200", "NVIDIA-H200", True),
        ("H200", "NVIDIA-H200-141GB-HBM3e", True),
        ("H200", "NVIDIA-H200-NVL", False),
        ("H200_NVL", "NVIDIA-H200-NVL", True),
        ("H200_NVL", "NVIDIA-H200", False),
        ("H100", "NVIDIA-GH200-480GB", False),
        ("RTX6000_ADA", "NVIDIA-RTX-6000-Ada-Generation", True),  # "RTX 6000" is the tag's RTX6000
        ("RTX6000_ADA", "Quadro-RTX-6000", False),
        ("RTX6000_ADA", "NVIDIA-RTX-6000", False),
        ("H100", "NVIDIA-H100-80GB-HBM3-SHARED", True),  # time-sliced: still a whole H100
        ("A100", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", False),  # a MIG slice is not the GPU the engine was built for
        ("H100", "80GB-H100", False),  # extensions may not come first
        ("H100", "NVIDIA", False),
    ],
)
def test_gpu_matches_by_name(tag, product, expected):
    profile = trt("p", None, tag, "bf16", 1, "throughput")
    assert gpu_matches(Pool(name="p", product=product, per_node=8), profile) is expected


def test_generic_profile_matches_any_gpu():
    assert gpu_matches(Pool(name="odd", product="Some-Unknown-Card", per_node=1), VLLM_FP16_TP1)


def test_device_id_decides_when_both_sides_declare_it():
    odd = Pool(name="odd", product="NVIDIA-Graphics-Device", per_node=8, memory_gb=80, device="2330:10DE")
    assert gpu_matches(odd, H100_70B_FP8_TP2_THR)  # case-insensitive, product name ignored
    assert not gpu_matches(odd, NVL_70B_FP8_TP2_THR)
    # A product name that would match does not override a different device id.
    claims_h100 = Pool(name="h100", product="NVIDIA-H100-80GB-HBM3", per_node=8, device="2321:10de")
    assert not gpu_matches(claims_h100, H100_70B_FP8_TP2_THR)
    assert gpu_matches(claims_h100, NVL_70B_FP8_TP2_THR)


def test_device_pool_falls_back_to_names_for_profiles_without_device():
    # llama-3.1-8b 1.1.2 profiles carry no gpu_device: the name decides.
    pool = Pool(name="h100", product="NVIDIA-H100-80GB-HBM3", per_node=8, device="2330:10de")
    assert gpu_matches(pool, H100_FP8_TP1_THR)
    assert not gpu_matches(pool, L40S_BF16_TP1_THR)


def test_device_only_profile_needs_the_pool_to_declare_a_device():
    bound = Profile(name="x", engine="tensorrt_llm", precision="fp8", tp=1, pp=1, lora=False, gpu_device="2330:10de")
    assert not gpu_matches(H100, bound)
    assert incompatibility(bound, H100) == "built for device 2330:10de, pool 'h100' declares no device id"
    assert gpu_matches(Pool(name="d", product="x", per_node=1, device="2330:10de"), bound)


# --- selection on llama-3.1-8b-instruct 1.1.2 --------------------------------------------------------------------


def test_h100_pool_picks_fp8_tp1_throughput():
    selection = select_profile(LLAMA_8B_112, [H100])
    assert selection.chosen == H100_FP8_TP1_THR
    assert selection.ranked[0] == selection.chosen
    # fp8 beats bf16 on the same GPU; the generic engine still runs but ranks last.
    assert selection.ranked == (H100_FP8_TP1_THR, H100_BF16_TP1_THR, VLLM_FP16_TP1)
    assert selection.chosen.pin == "2959f7f0dfeb14631352967402c282e904ff33e1d1fa015f603d9890cf92ca0f"
    assert selection.notes == ()
    assert reasons(selection)["tensorrt_llm-l40s-bf16-tp1-throughput"] == (
        "optimized for l40s, pool 'h100' has NVIDIA-H100-80GB-HBM3"
    )


def test_l40s_pool_objective_decides_between_tp1_throughput_and_tp2_latency():
    assert select_profile(LLAMA_8B_112, [L40S], optimize_for="throughput").chosen == L40S_BF16_TP1_THR
    latency = select_profile(LLAMA_8B_112, [L40S], optimize_for="latency")
    assert latency.chosen == L40S_BF16_TP2_LAT
    assert latency.ranked == (L40S_BF16_TP2_LAT, L40S_BF16_TP1_THR, VLLM_FP16_TP1)


def test_a100_pool_picks_a100_bf16_tp1_throughput():
    assert select_profile(LLAMA_8B_112, [A100]).chosen == A100_BF16_TP1_THR


@pytest.mark.parametrize("product", ["NVIDIA-A10G", "NVIDIA-L4"])
def test_gpu_without_optimized_profile_falls_back_to_generic(product):
    pool = Pool(name="small", product=product, per_node=4, memory_gb=24)
    selection = select_profile(LLAMA_8B_112, [pool])
    assert selection.chosen == VLLM_FP16_TP1
    assert selection.ranked == (VLLM_FP16_TP1,)
    assert selection.notes == ("no optimized profile runs on every pool ('small'): using a generic profile",)


def test_lora_on_h100_picks_the_lora_engine():
    selection = select_profile(LLAMA_8B_112, [H100], lora=True)
    assert selection.chosen == H100_BF16_TP1_THR_LORA
    assert selection.ranked == (H100_BF16_TP1_THR_LORA, VLLM_FP16_TP1_LORA)
    assert reasons(selection)["tensorrt_llm-h100-fp8-tp1-throughput"] == "not a LoRA profile"
    assert rejection_of(selection, H100_FP8_TP1_THR).pool is None


def test_lora_on_l40s_picks_generic_lora():
    selection = select_profile(LLAMA_8B_112, [L40S], lora=True)
    assert selection.chosen == VLLM_FP16_TP1_LORA
    # The H100 LoRA engine is ruled out by the GPU, the rest by not being LoRA.
    assert reasons(selection)["tensorrt_llm-h100-bf16-tp1-throughput-lora"] == (
        "optimized for h100, pool 'l40s' has NVIDIA-L40S"
    )
    assert reasons(selection)["tensorrt_llm-l40s-bf16-tp1-throughput"] == "not a LoRA profile"


def test_lora_profiles_are_rejected_when_lora_is_not_wanted():
    selection = select_profile(LLAMA_8B_112, [H100])
    assert reasons(selection)["tensorrt_llm-h100-bf16-tp1-throughput-lora"] == "LoRA profile, LoRA not requested"
    assert reasons(selection)["vllm-fp16-tp1-lora"] == "LoRA profile, LoRA not requested"


def test_mixed_pools_keep_only_common_profiles_and_say_so():
    selection = select_profile(LLAMA_8B_112, [H100, L40S])
    assert selection.chosen == VLLM_FP16_TP1
    assert selection.notes[0] == (
        "pools have mixed GPU types (NVIDIA-H100-80GB-HBM3, NVIDIA-L40S): only profiles common to all are kept"
    )
    h100_engine = rejection_of(selection, H100_FP8_TP1_THR)
    assert (h100_engine.pool, h100_engine.reason) == ("l40s", "optimized for h100, pool 'l40s' has NVIDIA-L40S")
    l40s_engine = rejection_of(selection, L40S_BF16_TP1_THR)
    assert (l40s_engine.pool, l40s_engine.reason) == (
        "h100", "optimized for l40s, pool 'h100' has NVIDIA-H100-80GB-HBM3"
    )


def test_pools_of_one_gpu_type_are_not_mixed():
    spot = Pool(name="h100-spot", product="NVIDIA-H100-80GB-HBM3", per_node=8, memory_gb=80)
    selection = select_profile(LLAMA_8B_112, [H100, spot])
    assert selection.chosen == H100_FP8_TP1_THR
    assert selection.notes == ()


def test_h100_nvl_pool_never_takes_plain_h100_engines():
    selection = select_profile(LLAMA_8B_112, [H100_NVL])
    assert selection.chosen == VLLM_FP16_TP1
    assert reasons(selection)["tensorrt_llm-h100-fp8-tp1-throughput"] == (
        "optimized for h100, pool 'nvl' has NVIDIA-H100-NVL"
    )
    with_nvl_engines = select_profile(LLAMA_70B, [H100_NVL], parameters_billions=70)
    assert with_nvl_engines.chosen == NVL_70B_FP8_TP2_THR
    assert all(p.gpu in (None, "H100_NVL") for p in with_nvl_engines.ranked)


# --- selection on the 70B model ------------------------------------------------------------------------------------


def test_70b_on_h100_picks_fp8_tp2_and_never_tp1_bf16():
    selection = select_profile(LLAMA_70B, [H100], parameters_billions=70)
    assert selection.chosen == H100_70B_FP8_TP2_THR
    assert selection.chosen.gpus >= 2
    assert not any(p.tp == 1 and p.precision == "bf16" for p in selection.ranked)
    assert reasons(selection)["vllm-bf16-tp1"] == "needs 174 GB per GPU, pool 'h100' GPUs have 80 GB"


def test_70b_on_h100_for_latency_uses_more_gpus():
    selection = select_profile(LLAMA_70B, [H100], optimize_for="latency", parameters_billions=70)
    assert selection.chosen == H100_70B_FP8_TP4_LAT
    # Among bf16 H100 engines, latency prefers the latency objective first, then more GPUs.
    bf16 = [p for p in selection.ranked if p.gpu == "H100" and p.precision == "bf16"]
    assert bf16 == [H100_70B_BF16_TP8_LAT, H100_70B_BF16_TP4_THR]


def test_weights_that_do_not_fit_reject_the_profile():
    selection = select_profile(LLAMA_70B, [L40S], parameters_billions=70)
    assert reasons(selection)["vllm-bf16-tp2"] == (
        "weights need ~70 GB per GPU at bf16/tp2, pool 'l40s' GPUs have 48 GB (43.2 GB usable for weights)"
    )
    assert selection.chosen == L40S_70B_FP8_TP4_THR
    # Without a parameter count the same generic profile is a candidate: the check needs the model size.
    assert VLLM_70B_BF16_TP2 in select_profile(LLAMA_70B, [L40S]).ranked


def test_weights_check_uses_bytes_per_param_of_the_precision():
    assert incompatibility(VLLM_FP16_TP1, H100, parameters_billions=70) == (
        "weights need ~140 GB per GPU at fp16/tp1, pool 'h100' GPUs have 80 GB (72 GB usable for weights)"
    )
    assert incompatibility(VLLM_FP16_TP1, H100, parameters_billions=8) is None
    # 80 GB leave 72 GB for weights: 36B at bf16 fits exactly, 36.5B does not.
    assert incompatibility(VLLM_FP16_TP1, H100, parameters_billions=36) is None
    assert incompatibility(VLLM_FP16_TP1, H100, parameters_billions=36.5) is not None
    assert BYTES_PER_PARAM["int4_awq"] == 0.5 and BYTES_PER_PARAM["fp8"] == 1 and BYTES_PER_PARAM["fp32"] == 4


def test_min_vram_is_checked_against_pool_memory():
    assert incompatibility(VLLM33_FP8_TP1, H100) == "needs 111 GB per GPU, pool 'h100' GPUs have 80 GB"
    assert incompatibility(VLLM33_FP8_TP2, H100) is None
    # Memory unknown: nothing to check against.
    assert incompatibility(VLLM33_FP8_TP1, Pool(name="h100", product="NVIDIA-H100-80GB-HBM3", per_node=8)) is None


def test_a100_40gb_pool_takes_the_40gb_engines_not_the_bare_a100_ones():
    # By name both A100 and A100_SXM4_40GB fit an A100-SXM4-40GB, but NIM's bare A100 tag is the 80GB device
    # (20b2:10de); the 40GB card (20b0:10de) has its own engines.
    selection = select_profile(LLAMA_70B, [A100_40], parameters_billions=70)
    assert selection.chosen == A100_40GB_70B_BF16_TP8_THR
    assert reasons(selection)["tensorrt_llm-a100-bf16-tp4-throughput"] == (
        "optimized for A100, pool 'a100-40' has NVIDIA-A100-SXM4-40GB, for which the A100_SXM4_40GB profiles are built"
    )
    on_80gb = select_profile(LLAMA_70B, [A100], parameters_billions=70)
    assert on_80gb.chosen == A100_70B_BF16_TP4_THR
    assert reasons(on_80gb)["tensorrt_llm-a100_sxm4_40gb-bf16-tp8-throughput"] == (
        "optimized for A100_SXM4_40GB, pool 'a100' has NVIDIA-A100-SXM4-80GB"
    )


def test_gh200_144gb_pool_takes_its_engine():
    gh200 = Pool(name="gh200", product="NVIDIA-GH200-144G-HBM3e", per_node=1, memory_gb=144)
    assert select_profile(LLAMA_70B, [gh200], parameters_billions=70).chosen == GH200_144_70B_FP8_TP1_THR


# --- device ids ----------------------------------------------------------------------------------------------------


def test_selection_by_device_id_with_an_odd_product_string():
    odd = Pool(name="odd", product="NVIDIA-Graphics-Device", per_node=8, memory_gb=80, device="2330:10de")
    selection = select_profile(LLAMA_70B, [odd], parameters_billions=70)
    assert selection.chosen == H100_70B_FP8_TP2_THR
    assert reasons(selection)["tensorrt_llm-h100_nvl-fp8-tp2-throughput"] == (
        "optimized for H100_NVL (device 2321:10de), pool 'odd' has device 2330:10de"
    )


# --- GPU count, capacity, MIG ------------------------------------------------------------------------------------


def test_explicit_gpus_restricts_to_that_count():
    selection = select_profile(LLAMA_70B, [H100], gpus=2, parameters_billions=70)
    assert selection.chosen == H100_70B_FP8_TP2_THR
    assert {p.gpus for p in selection.ranked} == {2}
    assert reasons(selection)["tensorrt_llm-h100-fp8-tp4-latency"] == "needs 4 GPUs, compute asks for 2"
    assert rejection_of(selection, H100_70B_FP8_TP4_LAT).pool is None


def test_pinned_profile_conflicting_with_gpus_names_both_numbers():
    found = check_profile(H100_70B_BF16_TP4_THR, [H100], gpus=2)
    assert found == [Rejection(H100_70B_BF16_TP4_THR, None, "needs 4 GPUs, compute asks for 2")]
    assert check_profile(H100_70B_FP8_TP2_THR, [H100], gpus=2) == []
    assert incompatibility(VLLM_FP16_TP1, H100, gpus=2) == "needs 1 GPU, compute asks for 2"


def test_pinned_profile_lists_every_pool_that_cannot_run_it():
    spot = Pool(name="h100-spot", product="NVIDIA-H100-80GB-HBM3", per_node=8, memory_gb=80)
    found = check_profile(H100_FP8_TP1_THR, [H100, L40S, spot])
    assert found == [Rejection(H100_FP8_TP1_THR, "l40s", "optimized for h100, pool 'l40s' has NVIDIA-L40S")]
    assert check_profile(VLLM_FP16_TP1, [H100, L40S]) == []
    with pytest.raises(ValueError):
        check_profile(VLLM_FP16_TP1, [])


def test_profile_needing_more_gpus_than_a_node_has_is_rejected():
    small = Pool(name="small", product="NVIDIA-H100-80GB-HBM3", per_node=4, memory_gb=80)
    assert incompatibility(H100_70B_BF16_TP8_LAT, small) == "needs 8 GPUs per replica, pool 'small' has 4 per node"
    selection = select_profile(LLAMA_70B, [small], optimize_for="latency")
    assert H100_70B_BF16_TP8_LAT not in selection.ranked
    assert rejection_of(selection, H100_70B_BF16_TP8_LAT).pool == "small"
    assert selection.chosen == H100_70B_FP8_TP4_LAT


def test_pipeline_parallel_counts_towards_gpus():
    tp4pp2 = Profile(name="vllm-bf16-tp4-pp2", engine="vllm", precision="bf16", tp=4, pp=2, lora=False)
    assert tp4pp2.gpus == 8
    assert incompatibility(tp4pp2, L40S) == "needs 8 GPUs per replica, pool 'l40s' has 4 per node"
    assert incompatibility(tp4pp2, H100, parameters_billions=1000) == (
        "weights need ~250 GB per GPU at bf16/tp4pp2, pool 'h100' GPUs have 80 GB (72 GB usable for weights)"
    )


def test_mig_slices_run_only_single_device_generic_profiles():
    selection = select_profile(LLAMA_8B_112, [A100], mig_profile="3g.40gb", parameters_billions=8)
    assert selection.chosen == VLLM_FP16_TP1
    assert reasons(selection)["tensorrt_llm-a100-bf16-tp1-throughput"] == (
        "optimized for a100; MIG slices run only generic profiles"
    )
    assert rejection_of(selection, A100_BF16_TP1_THR).pool is None
    assert incompatibility(VLLM_70B_BF16_TP2, A100, mig_profile="3g.40gb") == (
        "needs 2 GPUs, a MIG slice (3g.40gb) is a single device"
    )


def test_mig_slice_memory_replaces_pool_memory():
    # 8B at fp16 is ~16 GB: fits a 3g.40gb slice (and the 80 GB card), not a 1g.10gb slice.
    selection = select_profile(LLAMA_8B_112, [A100], mig_profile="1g.10gb", parameters_billions=8)
    assert selection.chosen is None
    assert reasons(selection)["vllm-fp16-tp1"] == (
        "weights need ~16 GB per GPU at fp16/tp1, MIG slice 1g.10gb has 10 GB (9 GB usable for weights)"
    )
    assert selection.notes == ("no profile can run on every pool ('a100'): each rejection says why",)
    # The slice memory applies even when the pool's memory is unknown.
    unknown = Pool(name="a100", product="NVIDIA-A100-SXM4-80GB", per_node=8)
    assert incompatibility(VLLM33_FP8_TP1, unknown, mig_profile="7g.80gb") == (
        "needs 111 GB per GPU, MIG slice 7g.80gb has 80 GB"
    )


def test_unreadable_mig_profile_is_a_caller_bug():
    with pytest.raises(ValueError, match="MIG profile"):
        incompatibility(VLLM_FP16_TP1, A100, mig_profile="half")


# --- ranking, determinism, edge cases ----------------------------------------------------------------------------


def test_sort_key_follows_nims_order():
    generic_trt = Profile(name="tensorrt_llm-bf16-tp1", engine="tensorrt_llm", precision="bf16", tp=1, pp=1,
                          lora=False)
    generic_vllm = Profile(name="vllm-bf16-tp1", engine="vllm", precision="bf16", tp=1, pp=1, lora=False)
    generic_sglang = Profile(name="sglang-bf16-tp1", engine="sglang", precision="bf16", tp=1, pp=1, lora=False)
    no_objective_fp8 = Profile(name="vllm-fp8-tp1", engine="vllm", precision="fp8", tp=1, pp=1, lora=False)
    unknown_precision = Profile(name="vllm-fp6-tp1", engine="vllm", precision="fp6", tp=1, pp=1, lora=False)
    ordered = sorted([unknown_precision, generic_sglang, generic_vllm, generic_trt, no_objective_fp8,
                      H100_BF16_TP1_THR], key=lambda p: sort_key(p, "throughput"))
    # optimized first; then fp8 before bf16; engines in order among equals; unknown precisions last
    assert ordered == [H100_BF16_TP1_THR, no_objective_fp8, generic_trt, generic_vllm, generic_sglang,
                       unknown_precision]
    assert PRECISION_ORDER.index("nvfp4") < PRECISION_ORDER.index("fp8") < PRECISION_ORDER.index("bf16")


def test_objective_without_tag_ranks_between_wanted_and_other():
    none = Profile(name="a", engine="tensorrt_llm", gpu="H100", precision="fp8", tp=2, pp=1, lora=False)
    ordered = sorted([H100_70B_FP8_TP4_LAT, none, H100_70B_FP8_TP2_THR], key=lambda p: sort_key(p, "throughput"))
    assert ordered == [H100_70B_FP8_TP2_THR, none, H100_70B_FP8_TP4_LAT]
    ordered = sorted([H100_70B_FP8_TP2_THR, none, H100_70B_FP8_TP4_LAT], key=lambda p: sort_key(p, "latency"))
    assert ordered == [H100_70B_FP8_TP4_LAT, none, H100_70B_FP8_TP2_THR]


def test_gpu_count_order_depends_on_objective():
    generics = [VLLM_70B_BF16_TP8, VLLM_70B_BF16_TP2, VLLM_70B_BF16_TP4]
    assert sorted(generics, key=lambda p: sort_key(p, "throughput")) == [
        VLLM_70B_BF16_TP2, VLLM_70B_BF16_TP4, VLLM_70B_BF16_TP8]
    assert sorted(generics, key=lambda p: sort_key(p, "latency")) == [
        VLLM_70B_BF16_TP8, VLLM_70B_BF16_TP4, VLLM_70B_BF16_TP2]


@pytest.mark.parametrize("seed", range(5))
def test_selection_does_not_depend_on_input_order(seed):
    everything = list(LLAMA_8B_112 + LLAMA_70B)
    expected = select_profile(everything, [H100, L40S], parameters_billions=70)
    shuffled = everything[:]
    random.Random(seed).shuffle(shuffled)
    got = select_profile(shuffled, [H100, L40S], parameters_billions=70)
    assert got == expected
    assert [(r.profile.name, r.profile.id) for r in got.rejected] == sorted(
        (r.profile.name, r.profile.id) for r in got.rejected
    )


def test_duplicate_profiles_count_once():
    selection = select_profile(LLAMA_8B_112 + LLAMA_8B_112, [H100])
    assert selection.ranked == (H100_FP8_TP1_THR, H100_BF16_TP1_THR, VLLM_FP16_TP1)
    assert len(selection.rejected) == len(LLAMA_8B_112) - 3


def test_nothing_fits_explains_every_profile():
    tiny = Pool(name="tiny", product="NVIDIA-L4", per_node=1, memory_gb=24)
    selection = select_profile(LLAMA_70B, [tiny], parameters_billions=70)
    assert selection.chosen is None
    assert selection.ranked == ()
    assert {r.profile for r in selection.rejected} == set(LLAMA_70B)
    assert all(r.reason for r in selection.rejected)


def test_no_pools_or_unknown_objective_is_a_caller_bug():
    with pytest.raises(ValueError):
        select_profile(LLAMA_8B_112, [])
    with pytest.raises(ValueError, match="optimize_for"):
        select_profile(LLAMA_8B_112, [H100], optimize_for="cost")


def test_pin_is_the_id_or_else_the_name():
    assert H100_FP8_TP1_THR.pin == H100_FP8_TP1_THR.id
    by_name = Profile(name="vllm-bf16-tp1-pp1", engine="vllm", precision="bf16", tp=1, pp=1, lora=False)
    assert by_name.pin == "vllm-bf16-tp1-pp1"
    assert not by_name.optimized and H100_FP8_TP1_THR.optimized


# --- precision support of the pool's GPU family ---------------------------------------------------------------------

VLLM33_NVFP4_TP1 = row("13b2cabe93f6e3d81e056b10d747d4baffc8dc6708977963dbc02c378fe6e7fd", "vllm", "nvfp4", 1,
                       min_vram_gb=82)
B200 = Pool(name="b200", product="NVIDIA-B200", per_node=8, memory_gb=180)


def test_generic_fp4_profile_needs_a_blackwell_gpu():
    hopper = select_profile((VLLM33_NVFP4_TP1, VLLM33_FP8_TP2), [H100], parameters_billions=70)
    assert hopper.chosen == VLLM33_FP8_TP2
    assert rejection_of(hopper, VLLM33_NVFP4_TP1).reason == "nvfp4 needs a Blackwell GPU, pool 'h100' has NVIDIA-H100-80GB-HBM3"
    blackwell = select_profile((VLLM33_NVFP4_TP1, VLLM33_FP8_TP2), [B200], parameters_billions=70)
    assert blackwell.chosen == VLLM33_NVFP4_TP1


def test_generic_fp8_profile_needs_ada_hopper_or_blackwell():
    ampere = select_profile((VLLM33_FP8_TP2,), [A100], parameters_billions=70)
    assert ampere.chosen is None
    assert rejection_of(ampere, VLLM33_FP8_TP2).reason == \
        "fp8 needs an Ada, Hopper or Blackwell GPU, pool 'a100' has NVIDIA-A100-SXM4-80GB"
    assert select_profile((VLLM33_FP8_TP2,), [H100], parameters_billions=70).chosen == VLLM33_FP8_TP2


def test_unknown_gpu_family_is_not_judged_on_precision():
    odd = Pool(name="odd", product="Some-Future-GPU", per_node=8, memory_gb=200)
    assert select_profile((VLLM33_NVFP4_TP1,), [odd]).chosen == VLLM33_NVFP4_TP1
