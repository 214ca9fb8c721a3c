"""qcc.lower: the target-neutral lowering layer between the integer IR and the backends.

It turns a quantized graph into a schedule of kernel calls over abstract buffers
(memory plan, liveness, in-place reuse) that every backend (C, Triton, accelerator)
renders.  It may import the core (``qcc.ir``, ``qcc.ops``, ``qcc.arith``) but never
``qcc.passes``, ``qcc.backends`` or ``qcc.bench``.
"""
