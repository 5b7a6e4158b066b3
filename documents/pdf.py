"""Word to PDF through LibreOffice in headless mode.

Each conversion runs ``soffice`` as a subprocess with a timeout, in a folder of
its own with its own user profile (``-env:UserInstallation``): two conversions
at once never share a profile, which LibreOffice does not survive.  The fonts a
form names (宋体, 仿宋, 黑体) are mapped to Noto CJK through a fontconfig file of
our own, so a server without Windows fonts prints Chinese, not boxes.

Where LibreOffice is missing or fails, :func:`convert` returns None and the log
says why: the Word file is still offered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

TIMEOUT_S = 90.0
"""A first start of LibreOffice on a cold machine takes several seconds."""
FONTS_CONF = Path(__file__).with_name("fonts.conf")
CANDIDATES = ("soffice", "libreoffice")


def office() -> str | None:
    """The LibreOffice program, if installed."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


async def convert(docx: bytes, *, limit_s: float = TIMEOUT_S) -> bytes | None:
    """``docx`` as PDF, or None (LibreOffice missing, failing or too slow: logged)."""
    program = office()
    if program is None:
        log.warning("PDF not made: LibreOffice (soffice) is not installed; Word is offered")
        return None
    with tempfile.TemporaryDirectory(prefix="studiobot-pdf-") as tmp:
        folder = Path(tmp)
        source = folder / "form.docx"
        source.write_bytes(docx)
        env = {**os.environ, "HOME": str(folder)}
        if FONTS_CONF.is_file():
            env["FONTCONFIG_FILE"] = str(FONTS_CONF)
        proc = await asyncio.create_subprocess_exec(
            program,
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder),
            str(source),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        try:
            _, err = await asyncio.wait_for(proc.communicate(), limit_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            log.error("PDF not made: LibreOffice took more than %.0f s", limit_s)
            return None
        made = folder / "form.pdf"
        if proc.returncode != 0 or not made.is_file():
            why = err.decode("utf-8", "replace").strip()[:300]
            log.error("PDF not made: LibreOffice exited with %s: %s", proc.returncode, why)
            return None
        return made.read_bytes()
