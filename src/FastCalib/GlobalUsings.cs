// The generator runtime (vector math, row chunking, GPU launch plumbing) is used throughout the library.
global using FastCalib.Kernels.Internals;
