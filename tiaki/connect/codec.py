"""The broker's JSON codec, for services and Agency units alike: kombu's
"json" serializer replaced by tiaki.core.fastjson, which writes and reads
exactly what the standard library does (plain JSON: str, int, float, bool,
None, lists, dicts), several times faster than kombu's own codec, which
spends its time on types we never send (make bench). Importing this module
registers it."""

from kombu.serialization import register

from tiaki.core import fastjson

register("json", fastjson.dumps, fastjson.loads, content_type="application/json",
         content_encoding="utf-8")
