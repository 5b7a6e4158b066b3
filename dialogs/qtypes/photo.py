"""``photo``: photos sent as pictures (``min_files``/``max_files``, ``max_size_mb``)."""

from __future__ import annotations

from dialogs.qtypes._upload import Upload


class Photo(Upload):
    name = "photo"


TYPE = Photo()
