"""The method registry: the built-in components (:mod:`~chimeramix.components.builtin`) and those of installed
plug-ins (:func:`register_method`, :func:`load_plugins`), one entry each
(:class:`~chimeramix.components.entry.Component`) under its command-line name. A method is one component or
several joined by ``+`` (:func:`parse_method`), at most one per role; :class:`Method` says what the core needs to
know of it.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, cast

from chimeramix.components.builtin import BUILT_IN, CHIMERAMIX_HOOKS
from chimeramix.components.entry import ROLE_ORDER, Component, FirstRun, Role
from chimeramix.components.hooks import ComponentHooks, FrontEnd, RunKind, load_reference
from chimeramix.config import MaskConfig, MaskKind
from chimeramix.errors import ChimeraMixError

COMPONENTS: dict[str, Component] = dict(BUILT_IN)
"""The registry: the built-in components, then those registered (plug-ins)."""

MULTI_IMAGE = re.compile(r"chimeramix-(grid|seg)-n(\d+)(-soft)?")
"""Multi-image ChimeraMix components: ``chimeramix-{grid,seg}-n{N}[-soft]``."""

MIXING_ROLES: tuple[Role, ...] = ("pair-mixing", "label-mixing", "teacher-mixing")
MASK_KINDS: dict[str, MaskKind] = {"gridmix": "grid", "chimeramix-grid": "grid", "segmix": "seg",
                                   "chimeramix-seg": "seg"}


@dataclass(frozen=True)
class Method:
    """A parsed method name: at most one component per role."""

    components: tuple[str, ...]
    """Component names in canonical order (see :data:`ROLE_ORDER`)."""

    @property
    def name(self) -> str:
        """The canonical name, e.g. ``chimeramix-seg+trivialaugment``."""
        return "+".join(self.components)

    def component(self, role: Role) -> str | None:
        """The component with this role, or ``None``."""
        return next((name for name in self.components if component_of(name).role == role), None)

    @property
    def front_end(self) -> str | None:
        """The front-end component (``scattering``, ``scattering-fixed``), or ``None`` (the protocol's network)."""
        return self.component("front-end")

    def hooks(self) -> list[tuple[str, ComponentHooks]]:
        """The hooks of its components that declare them, with the components' names."""
        return [(name, hooks) for name in self.components if (hooks := component_hooks(name)) is not None]

    @property
    def front_end_network(self) -> FrontEnd | None:
        """The network of its front end, or ``None`` (the protocol's network)."""
        return next((hooks.front_end for _, hooks in self.hooks() if hooks.front_end is not None), None)

    def default_architecture(self, preset: str) -> str | None:
        """The architecture of the method under ``preset`` when it has a front end; ``None`` otherwise (the
        protocol's network)."""
        network = self.front_end_network
        return network.default(preset) if network is not None else None

    @property
    def pair_mixing(self) -> str | None:
        return self.component("pair-mixing")

    @property
    def first_run(self) -> FirstRun | None:
        """The run the method needs trained before its classifier (:data:`FirstRun`), or ``None``."""
        return next((first for first in (component_of(name).first_run for name in self.components) if first), None)

    @property
    def needs_generator(self) -> bool:
        """Whether the method composes images with a trained generator (ChimeraMix's, or a generating run of a
        component's kind): its first run is not a teacher."""
        return self.first_run is not None and self.first_run != "teacher"

    @property
    def mask_kind(self) -> MaskKind | None:
        """``grid`` or ``seg`` for pair mixing, else ``None``."""
        match = MULTI_IMAGE.fullmatch(self.pair_mixing or "")
        return cast(MaskKind, match[1]) if match else MASK_KINDS.get(self.pair_mixing or "")

    @property
    def generator_masks(self) -> MaskConfig:
        """The masks of the generator a ChimeraMix method composes with: its kind, and for multi-image mixing
        N and the weights."""
        match = MULTI_IMAGE.fullmatch(self.pair_mixing or "")
        if match is None:
            return MaskConfig(kind=self.mask_kind or "grid")
        return MaskConfig(kind=cast(MaskKind, match[1]), images=int(match[2]), weights="soft" if match[3] else "hard")

    @property
    def pixel_mask_kind(self) -> MaskKind | None:
        """The mask kind of pixel-space pair mixing (gridmix, segmix), whose masks the classifier's config
        holds; ``None`` otherwise (ChimeraMix takes its generator's masks)."""
        return None if self.needs_generator else self.mask_kind

    @property
    def soft_labels(self) -> bool:
        """Whether the targets are class probabilities (label mixing) rather than class indices."""
        return self.component("label-mixing") is not None

    @property
    def needs_teacher(self) -> bool:
        """Whether the method mixes under a trained teacher (SuperMix)."""
        return self.first_run == "teacher"


_PLUGINS_READ = False


def components() -> dict[str, Component]:
    """The registry (:data:`COMPONENTS`) with the methods of the installed plug-ins, whose entry points are read on
    the first call (:func:`load_plugins`): not when chimeramix is imported, so that a plug-in may import chimeramix's
    packages while it loads."""
    global _PLUGINS_READ
    if not _PLUGINS_READ:
        _PLUGINS_READ = True
        load_plugins()
    return COMPONENTS


def method_names() -> list[str]:
    """The component names, for ``--help`` and error messages."""
    return [*components(), "chimeramix-grid-nN", "chimeramix-seg-nN[-soft]"]


def component_of(name: str) -> Component:
    """The registry entry of a component name, multi-image ChimeraMix included."""
    match = MULTI_IMAGE.fullmatch(name)
    if match is None:
        return components()[name]
    weights = "Dirichlet-weighted" if match[3] else "hard"
    return Component("pair-mixing", f"multi-image ChimeraMix: N = {match[2]} same-class images, {weights} "
                     f"{match[1]} masks, composed by the frozen generator", "generator", hooks=CHIMERAMIX_HOOKS)


_LOADED_HOOKS: dict[str, ComponentHooks] = {}


def component_hooks(name: str) -> ComponentHooks | None:
    """The hooks of a component (``None``: it declares none), imported once."""
    reference = component_of(name).hooks
    if reference is None:
        return None
    if reference not in _LOADED_HOOKS:
        hooks: Any = load_reference(reference)
        if not isinstance(hooks, ComponentHooks):
            raise ChimeraMixError(f"the hooks {reference} of method {name!r} are not a ComponentHooks; fix the "
                                  "method's registry entry")
        _LOADED_HOOKS[reference] = hooks
    return _LOADED_HOOKS[reference]


def all_hooks() -> dict[str, ComponentHooks]:
    """The hooks of every registered component that declares them, by the first component that names them (two
    components may share one, as ``scattering`` and ``scattering-fixed``)."""
    found: dict[str, ComponentHooks] = {}
    for name in components():
        hooks = component_hooks(name)
        if hooks is not None and all(hooks is not other for other in found.values()):
            found[name] = hooks
    return found


def declared_run_kinds() -> dict[str, RunKind]:
    """The kinds of run that components declare for their first runs (their hooks' ``run_kind``), by name; the
    core's are :mod:`chimeramix.runkinds`'."""
    return {hooks.run_kind.name: hooks.run_kind for hooks in all_hooks().values() if hooks.run_kind is not None}


def front_end_of(architecture: str) -> FrontEnd | None:
    """The front end whose network ``architecture`` names, or ``None`` (a network of the protocol's kind)."""
    return next((hooks.front_end for hooks in all_hooks().values()
                 if hooks.front_end is not None and hooks.front_end.width_of(architecture) is not None), None)


def _canonical_component(name: str) -> str:
    """``name`` with multi-image ChimeraMix spelled canonically (N = 2 with hard masks is plain ChimeraMix);
    N < 2 is an error."""
    match = MULTI_IMAGE.fullmatch(name)
    if match is None:
        return name
    kind, images, soft = match[1], int(match[2]), match[3] or ""
    if images < 2:
        raise ChimeraMixError(f"method {name!r} mixes fewer than 2 images; use N >= 2, e.g. chimeramix-{kind}-n3")
    return f"chimeramix-{kind}" if images == 2 and not soft else f"chimeramix-{kind}-n{images}{soft}"


def parse_method(name: str) -> Method:
    """Parse ``A`` or ``A+B+...``; unknown names and senseless combinations raise :class:`ChimeraMixError`.

    >>> parse_method("trivialaugment+chimeramix-seg").name
    'chimeramix-seg+trivialaugment'
    >>> parse_method("mixup+cutmix")
    Traceback (most recent call last):
    ...
    chimeramix.errors.ChimeraMixError: method 'mixup+cutmix' combines two mixing methods (mixup, cutmix); \
each batch is mixed by one method: keep one of them
    """
    parts = [part.strip() for part in name.split("+")]
    unknown = [part for part in parts if part not in components() and not MULTI_IMAGE.fullmatch(part)]
    if unknown:
        raise ChimeraMixError(
            f"unknown method {unknown[0]!r} in {name!r}; use one of {', '.join(method_names())}, or several "
            "joined by '+' (e.g. chimeramix-seg+trivialaugment)"
        )
    parts = [_canonical_component(part) for part in parts]
    if len(set(parts)) < len(parts):
        raise ChimeraMixError(f"method {name!r} names a component twice; name each one once")
    if "baseline" in parts and len(parts) > 1:
        raise ChimeraMixError(
            f"method {name!r} combines 'baseline' with other methods; baseline means no augmentation beyond "
            "crop and flip: drop 'baseline'"
        )
    mixing = [part for part in parts if component_of(part).role in MIXING_ROLES]
    if len(mixing) > 1:
        raise ChimeraMixError(
            f"method {name!r} combines two mixing methods ({', '.join(mixing)}); each batch is mixed by one "
            "method: keep one of them"
        )
    for role in ("front-end", "policy", "erasing", "loss"):
        same = [part for part in parts if component_of(part).role == role]
        if len(same) > 1:
            raise ChimeraMixError(
                f"method {name!r} combines two {role} methods ({', '.join(same)}); keep one of them"
            )
    loss = next((part for part in parts if component_of(part).role == "loss"), None)
    if "supermix" in parts and loss is not None:
        raise ChimeraMixError(f"method {name!r} combines supermix with {loss}; SuperMix trains with its own "
                              f"cross-entropy loss (Eq. 9): drop {loss}")
    ordered = sorted(parts, key=lambda part: ROLE_ORDER.index(component_of(part).role))
    return Method(tuple(ordered))


PLUGIN_GROUP = "chimeramix.methods"
"""The entry point group of methods in other packages: each entry point's name is the method's name, its object
a :class:`Component`."""


PLUGIN_HOOKS = {"front-end": ("front_end", "a FrontEnd: its network's names, widths and builder"),
                "pair-mixing": ("pair_mixing", "'module:function' that makes the pair mixing of a classifier run"),
                "loss": ("criterion", "'module:function' that makes the classifier's loss")}
"""The roles a plug-in may take besides those of :data:`TRANSFORM_ROLES`, and the hook its component's hooks must
declare for each."""
TRANSFORM_ROLES: tuple[Role, ...] = ("policy", "erasing", "label-mixing")
"""The roles a plug-in takes with a ``transform`` of its own (``Component.transform``)."""


def register_method(name: str, component: Component) -> None:
    """Add a method component to the registry, usable alone or joined to the other components by ``+``: a policy
    (its ``transform`` is applied to every training image where the built-in policies are), an erasing (its
    ``transform`` makes the stage that erases where ``cutout`` does), a label mixing (its ``transform`` mixes every
    batch and its labels where ``mixup`` does), a front end (its
    hooks declare its network, :class:`~chimeramix.components.hooks.FrontEnd`, and its settings), a pair mixing
    (its hooks' ``pair_mixing`` makes the compositions) or a loss (its hooks' ``criterion``); see
    :data:`PLUGIN_HOOKS`. A pair mixing may need a run trained first (``first_run``) of a kind its hooks declare
    (``run_kind``, with ``first_run_config`` and, since the classifier composes with the run, ``Composing``)."""
    if name in COMPONENTS or MULTI_IMAGE.fullmatch(name) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise ChimeraMixError(f"cannot register method {name!r}: the name is taken or not lower-case letters, "
                              "digits and '-'; choose another name")
    transformed = component.role in TRANSFORM_ROLES and component.transform is not None
    hooked = component.role in PLUGIN_HOOKS and component.hooks is not None
    if not (transformed or hooked) or (component.first_run is not None and component.role != "pair-mixing"):
        raise ChimeraMixError(f"cannot register method {name!r}: a registered method is a policy, an erasing or a "
                              "label mixing with a transform ('module:function'), or a front end, a pair mixing or a "
                              "loss with hooks ('module:NAME' declaring its front_end, pair_mixing or criterion); "
                              "only a pair mixing may have a first run")
    taken = {*declared_run_kinds(), "generator", "classifier", "teacher"} if component.first_run else set()
    COMPONENTS[name] = component
    problem = _plugin_hooks_problem(component, component_hooks(name), taken) if hooked else None
    if problem is not None:
        del COMPONENTS[name]
        raise ChimeraMixError(f"cannot register method {name!r}: its hooks {component.hooks} {problem}")


def _plugin_hooks_problem(component: Component, hooks: ComponentHooks | None, taken: set[str]) -> str | None:
    """What a plug-in's hooks lack for its role and its first run, or ``None``."""
    hook, what = PLUGIN_HOOKS[component.role]
    if getattr(hooks, hook, None) is None:
        return f"declare no {hook} ({what})"
    if component.first_run is None:
        return None
    kind = hooks.run_kind if hooks is not None else None
    if kind is None or kind.name != component.first_run or hooks is None or hooks.first_run_config is None:
        return (f"declare no run_kind named {component.first_run!r} (its first run) with a first_run_config (the "
                "run a classifier needs)")
    if kind.name in taken:
        return f"declare the kind of run {kind.name!r}, which another method or the core has; name it otherwise"
    if kind.composing is None:
        return f"declare the kind {kind.name!r} without Composing (how a classifier composes with its run)"
    if not all(kind.name in hooks.step_seconds.get(device, {}) for device in ("cpu", "cuda")):
        return (f"declare no default step cost of the kind (step_seconds={{'cpu': {{'{kind.name}': SECONDS}}, "
                f"'cuda': {{'{kind.name}': SECONDS}}}}), which estimates use until this machine measured one")
    return None


def load_plugins() -> None:
    """Register the methods of the installed packages' :data:`PLUGIN_GROUP` entry points not registered yet;
    one that fails to load is left out with a warning. :func:`components` calls it once; call it again after
    installing a plug-in into a running interpreter."""
    for entry in entry_points(group=PLUGIN_GROUP):
        if entry.name in COMPONENTS:
            continue
        try:
            register_method(entry.name, entry.load())
        except Exception as error:  # a broken plug-in must not break the command line
            warnings.warn(f"method plug-in {entry.name!r} ({entry.value}) was not loaded: {error}", stacklevel=2)
