"""A redaction-recall corpus built from real Debian conffiles with planted secrets (issue 12).

fetch.py downloads and unpacks Debian packages, slots.py finds every credential slot by parsing each
config file by format, plant.py writes the corpus with planted secrets and look-alikes, adversarial.py
adds generated files for each leak class, score.py runs casepack's redaction over it and scores.
"""
