"""The paper the unions file: each declaration as its program's 申报表 in Word
(the program's own template, or a clean form from its definition) and PDF."""
