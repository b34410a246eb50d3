"""The example Board report in docs/ is exactly what the generator makes from
the example plan and directory: regenerate it with
`python -m tools.influence_report_example`."""

from services.purpose_router.codesign.family_document import visible_text
from tests.unit.test_influence_report import UUID
from tools.influence_report_example import EXAMPLE, render


def test_the_example_report_is_what_the_generator_makes():
    assert EXAMPLE.read_text() == render(), (
        f"{EXAMPLE.name} is stale: run python -m tools.influence_report_example")


def test_the_example_names_its_periods_and_parties_and_keeps_ids_for_staff():
    html = render()
    seen = visible_text(html[:html.index("<footer")])
    assert not UUID.search(seen)
    assert "City Centre Social Services" in seen and "October to December 2025" in seen
    assert len(UUID.findall(html[html.index("<footer"):])) == 6 + 3  # outcomes, submissions
