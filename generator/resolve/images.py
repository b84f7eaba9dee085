"""Images: where a NIM image is pulled from (nvcr.io or the environment's mirror of it) and with which Secret."""

from __future__ import annotations

from ..model import Images

NGC_NIM_REGISTRY = "nvcr.io/nim/"        # catalog images: nvcr.io/nim/<org>/<model>:<tag>
DEFAULT_PULL_SECRET = "ngc-secret"       # the conventional pull secret for nvcr.io (NVIDIA's NIM examples)


def mirrored(image: str, images: Images) -> str:
    """A catalog image as the cluster pulls it: nvcr.io/nim/<repo>:<tag>[@<digest>] becomes
    <mirror>/<repo>:<tag>[@<digest>] (the digest, the image's identity, is kept); any other image is kept."""
    if images.mirror is None or not image.startswith(NGC_NIM_REGISTRY):
        return image
    return f"{images.mirror}/{image[len(NGC_NIM_REGISTRY):]}"


def pull_secrets(images: Images, image: str, store_secret: str | None, catalog: bool) -> tuple[str, ...]:
    """The store's pull Secret, else the environment's; a catalog image (licensed, from nvcr.io or its mirror)
    always has one, the conventional ngc-secret by default; another image on nvcr.io too."""
    chosen = store_secret or images.pull_secret
    if chosen is None and (catalog or image.startswith("nvcr.io/")):
        chosen = DEFAULT_PULL_SECRET
    return (chosen,) if chosen else ()
