"""Bisect harness: build, boot and judge real kernels; reaches the parser only via ``crashsig``.

Boot half (stable API, documented in each module):

* :mod:`crashsig.bisect.kernel`: ``fetch_debian_kernel(cache_dir=None, *, abi=None,
  headers=True) -> DebianKernel`` (``bzimage``, ``abi``, ``release``, ``modules_dir``,
  ``headers_dir``): Debian's cloud kernel via ``apt-get download`` + ``dpkg-deb -x``, cached
  under ``~/.cache/crashsig/kernels``, never installed.
* :mod:`crashsig.bisect.initramfs`: ``build_initramfs(out_path, *, reproducer=None,
  modules=(), busybox=None, extra_files=None) -> Path``: a gzip'd newc cpio written in pure
  Python around Debian's static busybox; ``/init`` mounts proc/sys/devtmpfs/debugfs, loads
  the modules, runs the reproducer, prints an end marker and powers off.
* :mod:`crashsig.bisect.qemu`: ``boot(kernel, initramfs, *, console_log=None,
  boot_timeout=..., test_timeout=..., total_timeout=..., cmdline_extra=(), memory_mb=512,
  cpus=1, accel="auto", qemu="qemu-system-x86_64", crash_grace=5.0, cancel=None) -> RunResult``
  (``outcome`` in ``ok | crashed | boot failed | timed out | infra error``, ``title``,
  ``report``, ``reason``, ``console``, ``duration``, ``accel``); ``find_qemu()`` checks the
  setup early. QEMU runs in its own process group, killed on every way out.

The command line is ``crashsig boot`` (``crashsig.commands.boot_cmd``).
"""
