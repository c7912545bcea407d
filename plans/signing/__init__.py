"""Signing a plan: what is signed and the proof of who signed it, and the sealed PDF.

evidence     the canonical content of a plan and its hash; the hash-chained event log
signatures   requests, signing, declining, signing codes, signer identity
documents    the plan's PDF documents: prepared, rendered by the worker, kept
pdf          rendering (WeasyPrint) and sealing (pyHanko, PAdES) of a document
seal         the workspace's seal certificate
views        the signing pages (seller and buyer), the PDF downloads, the verification page
"""
