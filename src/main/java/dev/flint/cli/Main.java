package dev.flint.cli;

/** Entry point of {@code bin/flint}. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        System.out.println("flint: not yet wired");
    }
}
