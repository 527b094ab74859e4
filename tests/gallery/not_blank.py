#!/usr/bin/env python3
"""Fails unless a PNG screenshot shows something: many colours, and a fair share of pixels that
are neither white nor one flat colour. Reads 8-bit RGB/RGBA non-interlaced PNGs (what Chromium
writes) with the standard library only.

    not_blank.py SCREENSHOT.png
"""
import struct
import sys
import zlib


def read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    pos, chunks, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"{path}: unsupported PNG {header}"
    channels = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(chunks)), width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(line)
        previous = line
    return width, height, channels, rows


def main():
    width, height, channels, rows = read_png(sys.argv[1])
    colours, inked = set(), 0
    for line in rows[::4]:
        for x in range(0, width, 4):
            pixel = tuple(line[x * channels:x * channels + 3])
            colours.add(pixel)
            inked += pixel != (255, 255, 255)
    samples = len(rows[::4]) * len(range(0, width, 4))
    share = inked / samples
    print(f"screenshot {width}x{height}: {len(colours)} colours, {share:.1%} of pixels not white")
    if len(colours) < 200 or share < 0.05:
        sys.exit("FAIL: the screenshot is blank or nearly so")


if __name__ == "__main__":
    main()
