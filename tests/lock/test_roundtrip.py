"""Property: what `dump_lock` writes, `parse_lock` reads back as the same lock, hash and all."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from lockfactory import make_inputs, make_lock, make_package, make_target

from envlock.lock.model import (
    Artifact,
    CondaPackage,
    DirectSource,
    HeldComponent,
    ImageInputs,
    Lock,
    LockedInterpreter,
    LockedTarget,
    LockInputs,
    MixedAllowance,
    Rejection,
)
from envlock.lock.read import parse_lock
from envlock.lock.validate import MAX_ARTIFACT_SIZE
from envlock.lock.write import dump_lock

# Any text a user or an index could put into a string field, control characters and DEL included
# (lone surrogates cannot come from TOML or UTF-8 input and are left out).
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
names = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
# Strings that become paths or URLs are held to strict forms by the reader (envlock.lock.validate);
# within those forms they are still drawn freely, quotes and non-ASCII letters included.
package_names = st.from_regex(r"[a-z]([a-z0-9-]{0,9}[a-z0-9])?", fullmatch=True)
file_names = st.from_regex(r"[A-Za-z0-9_+~!-][A-Za-z0-9._+~!-]{0,30}", fullmatch=True)
url_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=" \\\x7f"), max_size=12
)
urls = st.builds(lambda tail: "https://index.example/" + tail, url_text)


relative_paths = st.from_regex(r"[a-z0-9][a-z0-9/._-]{0,20}", fullmatch=True)


@st.composite
def direct_sources(draw: st.DrawFn) -> DirectSource:
    kind = draw(st.sampled_from(["path", "url", "git"]))
    return DirectSource(
        kind=kind,
        location=draw(urls) if kind == "url" else draw(relative_paths),
        commit=draw(st.from_regex(r"[0-9a-f]{40}", fullmatch=True)) if kind == "git" else None,
        subdirectory=draw(st.none() | relative_paths),
        built=draw(st.booleans()),
    )


@st.composite
def artifacts(draw: st.DrawFn, file_name: st.SearchStrategy[str] = file_names) -> Artifact:
    return Artifact(
        filename=draw(file_name),
        url=draw(urls),
        size=draw(st.integers(min_value=0, max_value=MAX_ARTIFACT_SIZE)),
        sha256=draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True)),
        hash_source=draw(st.sampled_from(["index", "downloaded", "file", "built"])),
        upload_time=draw(st.none() | st.just("2025-01-29T18:30:00Z")),
        yanked=draw(st.booleans()),
    )


@st.composite
def conda_packages(draw: st.DrawFn) -> CondaPackage:
    return CondaPackage(
        name=draw(package_names),
        version=draw(text),
        build=draw(text),
        build_number=draw(st.integers(min_value=0, max_value=99)),
        subdir=draw(st.sampled_from(["linux-64", "noarch"])),
        channel=draw(urls),
        noarch=draw(st.none() | st.sampled_from(["python", "generic"])),
        depends=tuple(draw(st.lists(text, max_size=2))),
        constrains=tuple(draw(st.lists(text, max_size=2))),
        artifact=draw(artifacts()),
        md5=draw(st.none() | st.from_regex(r"[0-9a-f]{32}", fullmatch=True)),
    )


archives = st.from_regex(r"cpython-3\.11\.[0-9]\+[0-9]{8}-x86_64-linux-install_only\.tar\.gz", fullmatch=True)
string_pairs = st.lists(st.tuples(text, text), max_size=2, unique_by=lambda p: p[0]).map(
    lambda pairs: tuple(sorted(pairs))
)


@st.composite
def images(draw: st.DrawFn) -> ImageInputs:
    return ImageInputs(
        base=draw(st.none() | text),
        user=draw(st.none() | text),
        workdir=draw(st.none() | text),
        env=draw(string_pairs),
        entrypoint=draw(st.none() | st.lists(text, max_size=2).map(tuple)),
        labels=draw(string_pairs),
    )


def _draws_every_field(cls: type, values: dict[str, Any], *, derived: str) -> None:
    """`values` set every field of `cls` but the `derived` one, which the lock factory computes:
    a field the strategy left to the factory's default would never vary here."""
    missing = {f.name for f in dataclasses.fields(cls)} - values.keys() - {derived}
    assert not missing, f"draw {cls.__name__}.{', '.join(sorted(missing))} in the strategy"


@st.composite
def targets(draw: st.DrawFn) -> LockedTarget:
    """A target that sets, or leaves at its default, every key of its table; its env-hash computed."""
    sources = {name: draw(st.none() | direct_sources()) for name in draw(st.sets(package_names, max_size=4))}
    packages = tuple(
        make_package(
            name,
            draw(st.sampled_from(["1.0", "2.5.1+cu124", "0.20.1+cpu"])),
            draw(artifacts()),
            index="" if sources[name] else draw(urls),
            source=sources[name],
        )
        for name in sorted(sources)
    )
    fields = {
        "platform": "linux-x86_64",
        "glibc": "2.28",
        "python": "3.11",
        "gpus": tuple(draw(st.lists(st.sampled_from(["sm_80", "sm_90"]), unique=True))),
        "driver": draw(st.none() | st.just("550.54.15")),
        "variant": draw(st.sampled_from(["cpu", "cu124"])),
        "torch": draw(st.none() | st.just("2.5.1+cu124")),
        "cuda": draw(st.none() | st.just("12.4")),
        "cudnn": draw(st.none() | text),
        "nccl": draw(st.none() | text),
        "requires_driver": draw(st.none() | st.just("550.54.14")),
        "compat": draw(st.none() | st.sampled_from(["native", "minor-version"])),
        "kb_status": draw(st.sampled_from(["confirmed", "inferred", "user"])),
        "packages": packages,
        "rejected": tuple(
            Rejection(variant=v, reason=draw(text), fix=draw(st.none() | text))
            for v in draw(st.lists(st.sampled_from(["cu118", "cu121"]), unique=True))
        ),
        "allowed_mixed": tuple(
            MixedAllowance(name=n, version=draw(text), cuda_major=draw(st.integers(11, 13)), by="spec")
            for n in draw(st.lists(package_names, unique=True, max_size=2))
        ),
        "requires_driver_from": draw(st.none() | text),
        "held": tuple(
            HeldComponent(name=n, version="12.1.*", reason=draw(text))
            for n in draw(st.lists(package_names, unique=True, max_size=2))
        ),
        "archs_source": draw(st.none() | st.sampled_from(["wheel", "knowledge-base"])),
        "torch_sass": tuple(draw(st.lists(st.sampled_from(["sm_80", "sm_90"]), unique=True))),
        "torch_ptx": tuple(draw(st.lists(st.just("compute_90"), max_size=1))),
        "toolkit_source": draw(st.none() | st.sampled_from(["redist", "index"])),
        "toolkit_release": draw(st.none() | st.just("12.4.1")),
        "toolkit": tuple(
            make_package(n, draw(text), draw(artifacts()), index=draw(urls))
            for n in draw(st.lists(package_names, unique=True, max_size=2))
        ),
        "conda": tuple(draw(st.lists(conda_packages(), max_size=2))),
        "interpreter": draw(
            st.none()
            | st.builds(
                LockedInterpreter,
                implementation=st.just("cpython"),
                version=st.just("3.11.14"),
                artifact=artifacts(archives),
            )
        ),
    }
    name = draw(names)
    _draws_every_field(LockedTarget, {"name": name, **fields}, derived="env_hash")
    return make_target(name, **fields)


@st.composite
def locks(draw: st.DrawFn) -> Lock:
    """Sealed locks of one target whose tables set, or leave at their defaults, every key of the model."""
    target = draw(targets())
    inputs = {
        "name": draw(names),
        "python": "3.11",
        "dependencies": tuple(draw(st.lists(text, max_size=3))),
        "cuda_version": draw(st.none() | text),
        "cudnn": draw(st.none() | text),
        "nccl": draw(st.none() | text),
        "driver_compat": "prefer-native",
        "allow_ptx": draw(st.booleans()),
        "default_index": draw(text),
        "pytorch_index": draw(st.none() | text),
        "extra_indexes": tuple(draw(st.lists(text, max_size=2))),
        "exclude_newer": draw(st.none() | st.just("2025-01-29T00:00:00Z")),
        "knowledge_base": "sha256:" + "1" * 64,
        "build": draw(st.sampled_from(["never", "allowed", ("flash-attn", "mylib")])),
        "uniform": draw(st.booleans()),
        "allow_mixed": tuple(draw(st.lists(text, max_size=2))),
        "trust_inferred_archs": draw(st.booleans()),
        "toolkit": tuple(draw(st.lists(text, max_size=2))),
        "toolkit_source": draw(st.none() | text),
        "nvidia_redist": draw(st.none() | text),
        "conda_channels": tuple(draw(st.lists(text, max_size=2))),
        "conda_dependencies": tuple(draw(st.lists(text, max_size=2))),
        "interpreter": draw(st.sampled_from(["system", "python-build-standalone"])),
        "image": draw(st.none() | images()),
    }
    _draws_every_field(LockInputs, inputs, derived="targets")  # the declarations follow the target
    return make_lock(targets=(target,), inputs=make_inputs((target,), **inputs))


@settings(max_examples=100, deadline=None)
@given(locks())
def test_load_of_dump_is_the_same_lock(lock: Lock) -> None:
    text_form = dump_lock(lock)
    assert parse_lock(text_form) == lock
    assert dump_lock(parse_lock(text_form)) == text_form
