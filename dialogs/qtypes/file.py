"""``file``: documents sent as files (PDF, Word, Excel, images by default; ``accept``)."""

from __future__ import annotations

from dialogs.qtypes._upload import Upload


class File(Upload):
    name = "file"


TYPE = File()
