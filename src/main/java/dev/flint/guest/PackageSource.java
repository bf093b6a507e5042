package dev.flint.guest;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;

/** Where guest packages come from. Debian's apt in production; tests substitute their own. */
interface PackageSource {
    /** Name of the concrete kernel image package (e.g. linux-image-6.1.0-56-amd64). */
    String kernelPackage(PrintStream progress);

    /** Downloads the .deb files of {@code packages} into {@code dir}. */
    void download(List<String> packages, Path dir, PrintStream progress);
}
