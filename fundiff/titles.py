"""The one registry of report sections: for each Part A experiment and Part B model, its section of the assignment
(docs/course.md), its title and its place on the page. Results writers put these into their manifests; the report reads
them for the sections that have not run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Title:
    section: str  # "A 1.4", "B 2.4": the numbering of docs/course.md
    title: str
    order: int  # position within its part: "A 1.7.2" -> 172, "B 2.4" -> 240


PART_A: dict[str, Title] = {
    "pipeline": Title("A 0", "Sampling from the pretrained model", 0),
    "forward": Title("A 1.1", "The forward process", 110),
    "blur": Title("A 1.2", "Classical denoising", 120),
    "one_step": Title("A 1.3", "One-step denoising", 130),
    "iterative": Title("A 1.4", "Iterative denoising", 140),
    "sampling": Title("A 1.5", "Diffusion model sampling", 150),
    "cfg": Title("A 1.6", "Classifier-free guidance", 160),
    "sdedit": Title("A 1.7", "Image-to-image translation (SDEdit)", 170),
    "inpainting": Title("A 1.7.2", "Inpainting", 172),
    "text_img2img": Title("A 1.7.3", "Text-conditional image-to-image translation", 173),
    "anagrams": Title("A 1.8", "Visual anagrams", 180),
    "hybrids": Title("A 1.9", "Hybrid images", 190),
}
PART_B: dict[str, Title] = {
    "denoiser": Title("B 1", "Single-step denoising UNet", 100),
    "time_cond": Title("B 2", "Time-conditioned DDPM", 200),
    "class_cond": Title("B 2.4", "Class-conditioned DDPM", 240),
}
# Part B results that are not a model of their own.
PART_B_EXTRA: dict[str, Title] = {
    "cas": Title("B 2.5", "Classification accuracy score (CAS)", 250),
}
# The Part B models, in the order of the `train` foreach of dvc.yaml (their DVCLive logs make the report's "B 0").
MODELS: tuple[str, ...] = tuple(PART_B)


def expected_sections() -> dict[str, str]:
    """Section -> title of every section the assignment asks for, in page order (a missing one shows as "not run")."""
    return {t.section: t.title for t in (*PART_A.values(), *PART_B.values(), *PART_B_EXTRA.values())}
