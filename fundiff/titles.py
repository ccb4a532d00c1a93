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
    # the flow-matching edition, in its own numbering (docs/course.md, "The flow-matching edition")
    "pure_noise": Title("B 1.2.3", "Denoising pure noise", 123),
    "flow_time_cond": Title("B 2.3", "Time-conditioned flow matching: training (2.2) and sampling (2.3)", 230),
    "flow_class_cond": Title(
        "B 2.6", "Class-conditioned flow matching: training (2.5) and sampling with CFG (2.6)", 260
    ),
    "flow_class_cond_unscheduled": Title(
        "B 2.6.1", "Class-conditioned flow matching without a learning-rate schedule", 261
    ),
}
# Part B results that are not a model of their own.
PART_B_EXTRA: dict[str, Title] = {
    "cas": Title("B 2.5", "Classification accuracy score (CAS)", 250),
}
# The Part B models of each edition (conf/partB/<edition>.yaml), in the order of the `train` foreach of dvc.yaml
# (their DVCLive logs make the report's "B 0"). Part A's DDPM class_cond is trained in both.
EDITIONS: dict[str, tuple[str, ...]] = {
    "ddpm": ("denoiser", "time_cond", "class_cond"),
    "flow": (
        "denoiser",
        "pure_noise",
        "class_cond",
        "flow_time_cond",
        "flow_class_cond",
        "flow_class_cond_unscheduled",
    ),
}
SAMPLED: dict[str, tuple[str, ...]] = {  # the models with a section of their own
    "ddpm": ("denoiser", "time_cond", "class_cond"),
    "flow": ("denoiser", "pure_noise", "flow_time_cond", "flow_class_cond", "flow_class_cond_unscheduled"),
}
MODELS: tuple[str, ...] = EDITIONS["ddpm"]


def cas_title(edition: str = "ddpm") -> Title:
    """CAS is 2.5 in the DDPM edition's numbering; the flow edition's 2.5 is class-conditioned training, so there
    it comes after 2.6 (beyond the course in both)."""
    return PART_B_EXTRA["cas"] if edition == "ddpm" else Title("B 2.7", PART_B_EXTRA["cas"].title, 270)


def expected_sections(edition: str = "ddpm") -> dict[str, str]:
    """Section -> title of every section the assignment asks for, in page order (a missing one shows as "not run")."""
    part_b = [PART_B[m] for m in SAMPLED[edition]]
    return {t.section: t.title for t in (*PART_A.values(), *part_b, cas_title(edition))}
