"""The example letter in docs/ is exactly what the generator makes from the
example programme: regenerate it with `python -m tools.family_document_example`."""

from tools.family_document_example import EXAMPLE, render


def test_the_example_letter_is_what_the_generator_makes():
    assert EXAMPLE.read_text() == render(), (
        f"{EXAMPLE.name} is stale: run python -m tools.family_document_example")
