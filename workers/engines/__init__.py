"""Model families behind one small interface; the only modules that import NeMo or pyannote."""
