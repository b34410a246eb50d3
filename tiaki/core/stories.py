"""The words of a story's consent, shared by intake and the command line.

A family's consent is recorded per use of their story, and how they gave or
withdrew it is a fixed choice, so no free text about the family lands in the
record (a note may add more, without identifiers)."""

USES = ("tender", "reporting", "publication")
HOW = ("signed form", "verbal", "email", "text message", "phone call", "letter", "in person")
