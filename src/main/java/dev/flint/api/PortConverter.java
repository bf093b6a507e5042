package dev.flint.api;

import picocli.CommandLine;

/** An I/O port option ({@code --debug-exit PORT}): decimal or 0x-hex, 0..0xffff, or -1 for the "none" default. */
public final class PortConverter implements CommandLine.ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
        int port;
        try {
            port = Integer.decode(value.trim());
        } catch (NumberFormatException e) {
            throw new CommandLine.TypeConversionException("'" + value + "' is not a port number (decimal or 0x-hex)");
        }
        if (port == -1) return port; // the "none" default
        if (port < 0 || port > 0xFFFF) throw new CommandLine.TypeConversionException("port " + value + " is outside 0..0xffff");
        return port;
    }
}
