#!/usr/bin/python3
"""Make the golden image corpus of processing/image.

Run from this folder with Debian 12's system Python (Pillow 9.4.0, libjpeg-turbo 2.1.5,
libwebp 1.2.4, libtiff 4.5):

    apt-get install -y python3-pil libjpeg-turbo-progs imagemagick webp
    /usr/bin/python3 make_corpus.py

It writes small images of every format and coding variant to corpus/ and corpus/manifest.json:
for each file the mode and size Pillow's Image.open reports and the sha256 of
Image.open(f).convert("RGB").tobytes() (or the error Pillow raises). The Go tests decode every
file and compare. Sources are crops of the fixture photos (parity/testdata/inputs) and synthetic
patterns, so the corpus is reproducible.
"""
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys

from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")
INPUTS = os.path.join(HERE, "..", "..", "..", "parity", "testdata", "inputs")

rng = random.Random(1234)
photos = [
    Image.open(os.path.join(INPUTS, "cat.png")).convert("RGB"),
    Image.open(os.path.join(INPUTS, "coffee.jpg")).convert("RGB"),
]
gray_photo = Image.open(os.path.join(INPUTS, "camera_gray.png")).convert("L")


def crop(w, h, k=None):
    p = photos[rng.randrange(len(photos))] if k is None else photos[k]
    x = rng.randrange(0, p.width - w + 1)
    y = rng.randrange(0, p.height - h + 1)
    return p.crop((x, y, x + w, y + h))


def synthetic(w, h):
    im = Image.new("RGB", (w, h))
    px = im.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = ((x * 255) // max(1, w - 1), (y * 255) // max(1, h - 1), rng.randrange(256))
    d = ImageDraw.Draw(im)
    if w > 4 and h > 4:
        d.ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=(255, 0, 0))
        d.line((0, h - 1, w - 1, 0), fill=(0, 255, 255))
    return im


def source(w, h):
    if w >= 8 and h >= 8 and rng.random() < 0.75:
        return crop(w, h)
    return synthetic(w, h)


SIZES = [(1, 1), (1, 9), (9, 1), (2, 2), (2, 7), (3, 3), (3, 5), (5, 3), (4, 17), (7, 9), (8, 8),
         (9, 17), (15, 16), (16, 15), (16, 16), (17, 17), (23, 31), (31, 23), (33, 2), (40, 40),
         (47, 61), (64, 48), (70, 70), (70, 3)]

manifest = {}


def record(name, cat):
    path = os.path.join(OUT, name)
    entry = {"category": cat, "bytes": os.path.getsize(path)}
    try:
        with Image.open(path) as im:
            entry["mode"] = im.mode
            entry["width"], entry["height"] = im.size
            entry["format"] = im.format
            rgb = im.convert("RGB").tobytes()
            entry["sha256"] = hashlib.sha256(rgb).hexdigest()
    except Exception as e:  # Pillow refuses the file
        entry["error"] = "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")
    manifest[name] = entry


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def tmp_ppm(im, gray=False):
    p = os.path.join(OUT, "_tmp.pgm" if gray else "_tmp.ppm")
    im.save(p)
    return p


def jpegs():
    n = 0
    for (w, h) in SIZES:
        im = source(w, h)
        for sub, tag in ((0, "444"), (1, "422"), (2, "420")):
            q = rng.choice([10, 50, 75, 90, 100])
            name = "jpeg_pil_%s_q%d_%dx%d.jpg" % (tag, q, w, h)
            im.save(os.path.join(OUT, name), quality=q, subsampling=sub)
            record(name, "jpeg")
        name = "jpeg_pil_prog420_%dx%d.jpg" % (w, h)
        im.save(os.path.join(OUT, name), quality=rng.choice([30, 80, 95]), subsampling=2, progressive=True)
        record(name, "jpeg")
        name = "jpeg_pil_prog444_opt_%dx%d.jpg" % (w, h)
        im.save(os.path.join(OUT, name), quality=85, subsampling=0, progressive=True, optimize=True)
        record(name, "jpeg")
        name = "jpeg_pil_gray_%dx%d.jpg" % (w, h)
        im.convert("L").save(os.path.join(OUT, name), quality=rng.choice([20, 75, 95]))
        record(name, "jpeg")
        name = "jpeg_pil_cmyk_%dx%d.jpg" % (w, h)
        im.convert("CMYK").save(os.path.join(OUT, name), quality=rng.choice([50, 90]))
        record(name, "jpeg")
    # cjpeg: other sampling factors, restart markers, RGB colour space, progressive with restarts
    ppm_sizes = [(1, 1), (2, 3), (5, 7), (13, 11), (17, 33), (31, 9), (45, 37), (64, 64), (69, 70)]
    samples = ["1x1", "2x1", "1x2", "2x2", "4x1", "1x4", "4x2", "2x4", "3x1", "1x3", "3x2", "2x2,2x1,1x1",
               "2x2,1x2,1x1", "4x4", "2x1,1x2,1x1"]
    for (w, h) in ppm_sizes:
        im = source(w, h)
        src = tmp_ppm(im)
        for s in samples:
            q = rng.choice([15, 60, 85, 98])
            name = "jpeg_cj_s%s_q%d_%dx%d.jpg" % (s.replace(",", "_"), q, w, h)
            try:
                run("cjpeg", "-quality", str(q), "-sample", s, "-outfile", os.path.join(OUT, name), src)
            except subprocess.CalledProcessError:
                continue
            record(name, "jpeg")
        for extra, tag in ((["-restart", "1B"], "rst1"), (["-restart", "2"], "rst2rows"),
                           (["-progressive", "-restart", "3B"], "progrst3"),
                           (["-progressive", "-sample", "1x2"], "prog440"),
                           (["-rgb"], "rgb"), (["-rgb", "-progressive"], "rgbprog"),
                           (["-optimize", "-sample", "2x1"], "opt422"),
                           (["-quality", "100", "-sample", "2x2"], "q100"),
                           (["-arithmetic"], "arith"), (["-arithmetic", "-progressive"], "arithprog"),
                           (["-arithmetic", "-restart", "1B", "-sample", "2x1"], "arithrst")):
            name = "jpeg_cj_%s_%dx%d.jpg" % (tag, w, h)
            run("cjpeg", *extra, "-outfile", os.path.join(OUT, name), src)
            record(name, "jpeg-arith" if tag.startswith("arith") else "jpeg")
        gsrc = tmp_ppm(im.convert("L"), gray=True)
        for extra, tag in ((["-progressive"], "grayprog"), (["-restart", "1B"], "grayrst"),
                           (["-sample", "2x2"], "gray22")):
            name = "jpeg_cj_%s_%dx%d.jpg" % (tag, w, h)
            run("cjpeg", "-grayscale", *extra, "-outfile", os.path.join(OUT, name), gsrc)
            record(name, "jpeg")
    # progressive files whose scans leave low-frequency coefficients incomplete: libjpeg-turbo
    # applies block smoothing to them (jpegtran -scans writes them)
    scripts = {
        "dcref1": "0,1,2: 0-0, 0, 1;\n0: 1-5, 0, 2;\n1: 1-63, 0, 1;\n2: 1-63, 0, 1;\n0: 6-63, 0, 2;\n",
        "noac2": "0,1,2: 0-0, 0, 0;\n0: 1-63, 0, 0;\n1: 1-63, 0, 0;\n",
        "dconly": "0,1,2: 0-0, 0, 1;\n",
        "lowac": "0,1,2: 0-0, 0, 0;\n0: 1-9, 0, 1;\n1: 1-2, 0, 0;\n2: 1-63, 0, 3;\n",
    }
    gscripts = {"gdconly": "0: 0-0, 0, 0;\n", "gpart": "0: 0-0, 0, 1;\n0: 1-5, 0, 0;\n0: 6-63, 0, 1;\n"}
    for (w, h) in [(1, 1), (9, 17), (16, 16), (23, 40), (40, 70), (64, 48), (70, 33)]:
        im = source(w, h)
        for sub, tag in ((2, "420"), (0, "444"), (1, "422")):
            base = os.path.join(OUT, "_tmp_src.jpg")
            im.save(base, quality=80, subsampling=sub)
            for name_, script in scripts.items():
                sp = os.path.join(OUT, "_tmp_scans.txt")
                with open(sp, "w") as f:
                    f.write(script)
                name = "jpeg_smooth_%s_%s_%dx%d.jpg" % (name_, tag, w, h)
                run("jpegtran", "-scans", sp, "-outfile", os.path.join(OUT, name), base)
                record(name, "jpeg-smooth")
        base = os.path.join(OUT, "_tmp_src.jpg")
        im.convert("L").save(base, quality=80)
        for name_, script in gscripts.items():
            sp = os.path.join(OUT, "_tmp_scans.txt")
            with open(sp, "w") as f:
                f.write(script)
            name = "jpeg_smooth_%s_%dx%d.jpg" % (name_, w, h)
            run("jpegtran", "-scans", sp, "-outfile", os.path.join(OUT, name), base)
            record(name, "jpeg-smooth")
    # ImageMagick CMYK
    for (w, h) in [(9, 7), (33, 20)]:
        im = source(w, h)
        p = os.path.join(OUT, "_tmp.png")
        im.save(p)
        name = "jpeg_im_cmyk_%dx%d.jpg" % (w, h)
        run("convert", p, "-colorspace", "CMYK", "-quality", "85", os.path.join(OUT, name))
        record(name, "jpeg")


def pngs():
    for (w, h) in [(1, 1), (3, 2), (7, 9), (16, 16), (33, 21), (50, 40), (61, 47)]:
        im = source(w, h)
        base = "png_%dx%d" % (w, h)
        im.save(os.path.join(OUT, base + "_rgb.png"))
        record(base + "_rgb.png", "png")
        im.convert("L").save(os.path.join(OUT, base + "_l.png"))
        record(base + "_l.png", "png")
        im.convert("1").save(os.path.join(OUT, base + "_1.png"))
        record(base + "_1.png", "png")
        rgba = im.convert("RGBA")
        a = Image.linear_gradient("L").resize((w, h))
        rgba.putalpha(a)
        rgba.save(os.path.join(OUT, base + "_rgba.png"))
        record(base + "_rgba.png", "png")
        la = im.convert("L").convert("LA")
        la.putalpha(a)
        la.save(os.path.join(OUT, base + "_la.png"))
        record(base + "_la.png", "png")
        for colors, bits in ((2, 1), (4, 2), (16, 4), (200, 8)):
            p = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=colors)
            name = base + "_p%d.png" % bits
            p.save(os.path.join(OUT, name), bits=bits)
            record(name, "png")
        p = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
        p.save(os.path.join(OUT, base + "_ptrns.png"), transparency=3)
        record(base + "_ptrns.png", "png")
        i16 = Image.new("I", (w, h))
        i16.putdata([rng.choice([rng.randrange(256), rng.randrange(65536)]) for _ in range(w * h)])
        i16.save(os.path.join(OUT, base + "_i16.png"))
        record(base + "_i16.png", "png")
        im.convert("L").save(os.path.join(OUT, base + "_ltrns.png"), transparency=17)
        record(base + "_ltrns.png", "png")
        im.save(os.path.join(OUT, base + "_rgbtrns.png"), transparency=(1, 2, 3))
        record(base + "_rgbtrns.png", "png")
        src = os.path.join(OUT, base + "_rgba.png")
        for args, tag in ((["-interlace", "PNG"], "interlaced"), (["-depth", "16"], "rgb16"),
                          (["-depth", "16", "-colorspace", "Gray"], "gray16im"),
                          (["-colorspace", "Gray", "-depth", "2"], "gray2"),
                          (["-colorspace", "Gray", "-depth", "4"], "gray4"),
                          (["-depth", "16", "-define", "png:color-type=6"], "rgba16"),
                          (["-interlace", "PNG", "-depth", "16"], "interlaced16")):
            name = base + "_%s.png" % tag
            # no time chunks, so that the corpus is reproducible byte for byte
            run("convert", src, *args, "-define", "png:exclude-chunks=date,time", os.path.join(OUT, name))
            record(name, "png")
    # a palette shorter than the indices used (Pillow keeps its gray ramp for missing entries)
    p = Image.new("P", (8, 8))
    p.putdata(list(range(64)))
    p.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    p.save(os.path.join(OUT, "png_shortpalette_8x8.png"))
    record("png_shortpalette_8x8.png", "png")


def gifs():
    for (w, h) in [(1, 1), (5, 3), (16, 16), (33, 21), (40, 36), (64, 48)]:
        im = source(w, h)
        base = "gif_%dx%d" % (w, h)
        im.save(os.path.join(OUT, base + ".gif"))
        record(base + ".gif", "gif")
        im.convert("L").save(os.path.join(OUT, base + "_l.gif"))
        record(base + "_l.gif", "gif")
        p = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
        p.save(os.path.join(OUT, base + "_trns.gif"), transparency=5)
        record(base + "_trns.gif", "gif")
        im.save(os.path.join(OUT, base + "_anim.gif"), save_all=True, append_images=[source(w, h)], duration=50, loop=0)
        record(base + "_anim.gif", "gif")
        if w > 4 and h > 2:
            p = os.path.join(OUT, "_tmp.png")
            im.save(p)
            name = base + "_offset.gif"
            run("convert", p, "-crop", "%dx%d+2+1" % (w - 4, h - 2), "-repage", "%dx%d+2+1" % (w, h), os.path.join(OUT, name))
            record(name, "gif")


def bmps():
    for (w, h) in [(1, 1), (3, 5), (13, 7), (33, 29), (64, 10)]:
        im = source(w, h)
        base = "bmp_%dx%d" % (w, h)
        for mode in ("RGB", "L", "1", "P"):
            m = im.convert(mode) if mode != "P" else im.convert("P", palette=Image.Palette.ADAPTIVE, colors=50)
            name = base + "_%s.bmp" % mode.lower()
            m.save(os.path.join(OUT, name))
            record(name, "bmp")
        p = os.path.join(OUT, "_tmp.png")
        im.save(p)
        for args, tag in ((["-type", "TrueColorAlpha"], "argb32"), (["-define", "bmp:subtype=RGB565"], "rgb565"),
                          (["-define", "bmp:subtype=RGB555"], "rgb555"), (["-colors", "16", "-type", "Palette"], "pal4"),
                          (["-colors", "100", "-type", "Palette", "-compress", "RLE"], "rle8"),
                          (["-colors", "12", "-type", "Palette", "-compress", "RLE"], "rle4"),
                          (["-define", "bmp:format=bmp4", "-type", "TrueColorAlpha"], "v4argb")):
            name = base + "_im_%s.bmp" % tag
            bmp3 = tag in ("pal4", "rle8", "rle4")
            run("convert", p, *args, "BMP3:" + os.path.join(OUT, name) if bmp3 else os.path.join(OUT, name))
            record(name, "bmp")


def tiffs():
    for (w, h) in [(1, 1), (3, 5), (17, 9), (45, 30), (64, 20)]:
        im = source(w, h)
        base = "tiff_%dx%d" % (w, h)
        for comp in (None, "tiff_lzw", "tiff_deflate", "packbits"):
            for mode in ("RGB", "RGBA", "L", "1", "P", "CMYK", "I;16"):
                if mode == "P":
                    m = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=40)
                elif mode == "I;16":
                    m = Image.new("I;16", (w, h))
                    m.putdata([rng.choice([rng.randrange(256), rng.randrange(65536)]) for _ in range(w * h)])
                else:
                    m = im.convert(mode)
                name = base + "_%s_%s.tif" % (mode.lower().replace(";", ""), comp or "raw")
                if comp:
                    m.save(os.path.join(OUT, name), compression=comp)
                else:
                    m.save(os.path.join(OUT, name))
                record(name, "tiff")
        p = os.path.join(OUT, "_tmp.png")
        im.save(p)
        for args, tag in ((["-compress", "lzw", "-define", "tiff:predictor=2"], "lzwpred"),
                          (["-interlace", "plane"], "planar"),
                          (["-compress", "lzw", "-define", "tiff:rows-per-strip=2"], "strips2"),
                          (["-define", "tiff:tile-geometry=16x16"], "tiled"),
                          (["-depth", "16"], "rgb16"), (["-depth", "16", "-compress", "lzw"], "rgb16lzw"),
                          (["-depth", "16", "-alpha", "on"], "rgba16")):
            name = base + "_im_%s.tif" % tag
            run("convert", p, *args, os.path.join(OUT, name))
            record(name, "tiff-tiled" if tag == "tiled" else "tiff")


def webps():
    for (w, h) in [(1, 1), (2, 3), (7, 5), (16, 16), (17, 33), (51, 37), (64, 64)]:
        im = source(w, h)
        base = "webp_%dx%d" % (w, h)
        im.save(os.path.join(OUT, base + "_lossless.webp"), lossless=True)
        record(base + "_lossless.webp", "webp-lossless")
        rgba = im.convert("RGBA")
        rgba.putalpha(Image.linear_gradient("L").resize((w, h)))
        rgba.save(os.path.join(OUT, base + "_lossless_rgba.webp"), lossless=True)
        record(base + "_lossless_rgba.webp", "webp-lossless")
        p = os.path.join(OUT, "_tmp.png")
        im.save(p)
        for args, tag in ((["-lossless", "-z", "9"], "ll9"), (["-lossless", "-z", "0"], "ll0"),
                          (["-near_lossless", "60"], "nearll")):
            name = base + "_cw_%s.webp" % tag
            run("cwebp", "-quiet", *args, p, "-o", os.path.join(OUT, name))
            record(name, "webp-lossless")
        for q in (10, 50, 80, 100):
            name = base + "_lossy_q%d.webp" % q
            im.save(os.path.join(OUT, name), quality=q)
            record(name, "webp-lossy")
        name = base + "_lossy_rgba.webp"
        rgba.save(os.path.join(OUT, name), quality=70)
        record(name, "webp-lossy")
        for args, tag in ((["-q", "75", "-sns", "100", "-f", "100"], "strongfilter"),
                          (["-q", "60", "-segments", "1", "-f", "0"], "nofilter"),
                          (["-q", "90", "-sharp_yuv"], "sharpyuv"),
                          (["-q", "40", "-partition_limit", "50", "-sharpness", "7"], "parts")):
            name = base + "_cw_%s.webp" % tag
            run("cwebp", "-quiet", *args, p, "-o", os.path.join(OUT, name))
            record(name, "webp-lossy")


def resizes():
    """Pillow Image.resize goldens: source corpus file, target size, filter -> sha256 of the RGB."""
    out = []
    sources = ["jpeg_pil_420_q90_64x48.jpg", "png_61x47_rgb.png", "png_7x9_rgba.png", "gif_40x36.gif",
               "webp_51x37_lossy_q80.webp", "bmp_33x29_rgb.bmp", "png_1x1_rgb.png", "png_3x2_rgb.png"]
    names = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}
    sizes = [(1, 1), (1, 5), (7, 1), (2, 3), (13, 11), (32, 24), (56, 56), (63, 47), (64, 48), (97, 13), (130, 101), (224, 224)]
    for src in sources:
        if src not in manifest:
            continue
        im = Image.open(os.path.join(OUT, src)).convert("RGB")
        for (w, h) in sizes:
            for f in range(6):
                r = im.resize((w, h), resample=f)
                out.append({"source": src, "width": w, "height": h, "resample": f, "name": names[f],
                            "sha256": hashlib.sha256(r.tobytes()).hexdigest()})
    with open(os.path.join(OUT, "resize.json"), "w") as fp:
        json.dump(out, fp, indent=0)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    jpegs()
    pngs()
    gifs()
    bmps()
    tiffs()
    webps()
    resizes()
    for f in os.listdir(OUT):
        if f.startswith("_tmp"):
            os.remove(os.path.join(OUT, f))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"pillow": Image.__version__, "files": manifest}, f, indent=1, sort_keys=True)
    total = sum(e["bytes"] for e in manifest.values())
    print("%d files, %d bytes" % (len(manifest), total), file=sys.stderr)


if __name__ == "__main__":
    main()
