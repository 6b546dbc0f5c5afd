"""Media handling: safe image decoding, video frames, OCR, region detection."""
