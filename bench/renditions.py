"""The rendition task per megapixel, and the worker's peak memory for a 40-megapixel upload: `make bench-renditions`.

Photos of growing size (BENCH_RENDITION_MEGAPIXELS, 3:2, a gradient under Gaussian noise so that encoders have
detail to encode) are cleaned as an upload is (publisher.images.clean_upload, timed here in this process) and saved
as post images: the save queues publisher.images.tasks.make_renditions after the commit, as an upload does, to a
real worker started as the Procfile starts one but with the solo pool (the task runs in the worker's own process,
whose memory is then the task's). Each task is queued again for the rounds after the first (made again, written
over). Its time is the worker's own ("succeeded in N s", from its log), per image and per megapixel; how that per-MP
cost grows from the smallest size to the largest is printed as a ratio. JPEG and PNG (PNG has no reduced-scale
decoding, JPEG has: Pillow's draft mode).

Peak memory: a fresh worker per format makes the renditions of a 40-megapixel upload (7,740 × 5,160); printed, its
peak resident set (VmHWM) before and after the task, and the difference.

Target: the 40-megapixel task within the worker's soft time limit (CELERY_TASK_SOFT_TIME_LIMIT, 240 s) and its
worker's peak under 1 GB. Environment: BENCH_RENDITION_MEGAPIXELS (1,4,12,24,40), BENCH_RENDITION_ROUNDS (3),
BENCH_RENDITION_FORMATS (JPEG,PNG), and common.py's database and Redis.
"""

import io
import math
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

MEGAPIXELS = common.sizes("BENCH_RENDITION_MEGAPIXELS", "1,4,12,24,40")
ROUNDS = int(os.environ.get("BENCH_RENDITION_ROUNDS", 3))
FORMATS = os.environ.get("BENCH_RENDITION_FORMATS", "JPEG,PNG").split(",")
PEAK_SIZE = (7740, 5160)  # 39.9 megapixels: within IMAGE_MAX_PIXELS
PEAK_TARGET_MB = 1024


def size_of(megapixels):
    if megapixels >= 40:
        return PEAK_SIZE
    width = round(math.sqrt(megapixels * 1_000_000 * 3 / 2))
    return width, round(width * 2 / 3)


def photo(size, image_format):
    from PIL import Image

    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 24)
    image = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    out = io.BytesIO()
    image.save(out, format=image_format, quality=90, compress_level=1)  # the set-up is not measured: fast
    return out.getvalue()


def peak_rss_mb(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def task_seconds(log_path, task_id, timeout=600):
    """The task's run time as the worker logs it."""
    pattern = re.compile(rf"\[{task_id}\] succeeded in ([\d.]+)s")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pattern.search(Path(log_path).read_text())
        if found:
            return float(found.group(1))
        if f"[{task_id}] raised" in Path(log_path).read_text():
            sys.exit(f"the rendition task failed; see {log_path}")
        time.sleep(0.02)
    sys.exit(f"the rendition task did not finish in {timeout} s; see {log_path}")


def start_worker(env, log_path):
    command = [sys.executable, "-m", "celery", "-A", "quick_publisher", "worker", "--pool", "solo"]
    command += ["--loglevel", "INFO", "--without-mingle", "--without-gossip", "--without-heartbeat"]
    return common.start(command, log_path, env, ready_text="ready.")


def new_image(post, data, name):
    """A post image as the post form saves one; its renditions are queued once it is committed."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from publisher import images
    from publisher.models import PostImage

    started = time.perf_counter()
    clean = images.clean_upload(SimpleUploadedFile(name, data))
    cleaning = time.perf_counter() - started
    image = PostImage(post=post, role=PostImage.Role.BODY, alt=name)
    images.attach(image, clean)
    image.save()
    return image, cleaning


def last_task_id(image):
    from django_celery_results.models import TaskResult

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        result = TaskResult.objects.filter(task_args__contains=f"({image.pk},)").order_by("-date_created").first()
        if result is not None:
            return result.task_id
        time.sleep(0.02)
    sys.exit("the rendition task was not received")


def time_sizes(post, env, logs):
    """Seconds per megapixel for each size and format, ROUNDS runs each on one worker."""
    from publisher.images.tasks import make_renditions

    worker = start_worker(env, logs / "worker.log")
    rows = []
    try:
        for image_format in FORMATS:
            for megapixels in MEGAPIXELS:
                size = size_of(megapixels)
                data = photo(size, image_format)
                image, cleaning = new_image(post, data, f"{megapixels}mp.{image_format.lower()}")
                times = [task_seconds(logs / "worker.log", last_task_id(image))]
                for _ in range(ROUNDS - 1):
                    times.append(task_seconds(logs / "worker.log", make_renditions.delay(image.pk).id))
                real_mp = size[0] * size[1] / 1e6
                median = statistics.median(times)
                rows.append((image_format, real_mp, len(data), cleaning, median, median / real_mp))
                print(
                    f"  {image_format:4} {real_mp:5.1f} MP ({len(data) / 1e6:5.1f} MB): upload cleaned in "
                    f"{cleaning:6.2f} s; renditions {median:6.2f} s (min {min(times):.2f}, max {max(times):.2f}), "
                    f"{1000 * median / real_mp:6.1f} ms/MP",
                    flush=True,
                )
    finally:
        common.stop(worker)
    return rows


def peak_memory(post, env, logs, image_format):
    worker = start_worker(env, logs / f"peak-{image_format}.log")
    try:
        before = peak_rss_mb(worker.pid)
        image, _ = new_image(post, photo(PEAK_SIZE, image_format), f"peak.{image_format.lower()}")
        seconds = task_seconds(logs / f"peak-{image_format}.log", last_task_id(image))
        after = peak_rss_mb(worker.pid)
    finally:
        common.stop(worker)
    print(
        f"  {image_format:4} 40 MP: worker peak RSS {before:.0f} MB idle, {after:.0f} MB after the task "
        f"(+{after - before:.0f} MB), task {seconds:.2f} s",
        flush=True,
    )
    return after, seconds


def main():
    media = tempfile.mkdtemp(prefix="bench-renditions-")
    env = common.set_up(MEDIA_ROOT=media, IMAGE_MAX_BYTES=str(200 * 1024 * 1024))
    logs = common.log_directory("renditions")
    from django.conf import settings

    from publisher.models import Post

    ok = True
    try:
        [author_id] = common.create_authors(1)
        post = Post.objects.create(author_id=author_id, title="Pictures", slug="pictures", content="Pictures.")
        widths = ", ".join(map(str, settings.IMAGE_RENDITION_WIDTHS))
        print(f"Rendition task per megapixel ({ROUNDS} rounds each, median), widths {widths}, WebP and own format")
        rows = time_sizes(post, env, logs)
        for image_format in FORMATS:
            per_mp = [row[5] for row in rows if row[0] == image_format]
            print(
                f"  {image_format}: ms/MP from {MEGAPIXELS[0]} to {MEGAPIXELS[-1]} MP grows "
                f"{per_mp[-1] / per_mp[0]:.2f}× ({1000 * per_mp[0]:.1f} → {1000 * per_mp[-1]:.1f})"
            )
        print("Peak memory of the worker for a 40-megapixel upload")
        for image_format in FORMATS:
            peak, seconds = peak_memory(post, env, logs, image_format)
            ok &= common.verdict(peak < PEAK_TARGET_MB, f"{image_format}: worker peak {peak:.0f} MB < {PEAK_TARGET_MB}")
            ok &= common.verdict(seconds < 240, f"{image_format}: 40 MP task {seconds:.1f} s < 240 s")
    finally:
        common.tear_down()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
