"""Reading pictures: QR codes and text become identifiers; a perceptual hash links copies.

Pure functions over an image's bytes (no database, no clock). The reader process
(bot/reader/) runs them, one image at a time, in a child it can kill.
"""
