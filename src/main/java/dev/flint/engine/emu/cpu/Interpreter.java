package dev.flint.engine.emu.cpu;

import dev.flint.engine.emu.mmu.Mmu;
import dev.flint.machine.bus.Bus;

/**
 * Executes one instruction: decodes its prefixes and opcode ({@link Decoder}) and dispatches it to the
 * family that implements it. The two switches below are the map from opcode to family:
 *
 * <ul>
 *   <li>{@link ArithmeticInstructions}: ALU operations, INC/DEC, MUL/DIV, BCD, flag instructions, XADD,
 *       CMPXCHG, CMPXCHG8B/16B;</li>
 *   <li>{@link ShiftInstructions}: shifts, rotates, SHLD/SHRD;</li>
 *   <li>{@link BitInstructions}: BT/BTS/BTR/BTC, BSF/BSR, POPCNT, BSWAP;</li>
 *   <li>{@link MoveInstructions}: MOV, MOVZX/MOVSX, LEA, XCHG, CMOVcc, SETcc, segment and far pointer loads;</li>
 *   <li>{@link StringInstructions}: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS and their REP forms;</li>
 *   <li>{@link ControlInstructions}: PUSH/POP, ENTER/LEAVE, jumps, calls, returns, LOOP, INT n, IRET;</li>
 *   <li>{@link SystemInstructions}: control and debug registers, descriptor tables, MSRs, CPUID, TSC,
 *       SYSCALL/SYSRET, HLT, CLI/STI, port I/O, fences;</li>
 *   <li>{@link FpuInstructions}: x87, MMX and SSE, handed to the {@link FpuUnit}.</li>
 * </ul>
 *
 * <p>The families work on {@link CpuState}, the {@link Mmu} and the decoder's state; privilege and mode
 * changing transfers go through {@link Interrupts}. None of them knows the runner ({@link Cpu}), which
 * calls {@link #step} and {@link #replay} and nothing here calls back up.
 */
final class Interpreter {
    private final CpuState s;
    private final Decoder dec;
    private final ArithmeticInstructions arith;
    private final ShiftInstructions shifts;
    private final BitInstructions bits;
    private final MoveInstructions moves;
    /** PAUSE counting for this vCPU (pause-loop exiting). */
    final PauseLoopExit pauseLoop;
    private final StringInstructions strings;
    private final ControlInstructions control;
    private final SystemInstructions system;
    private final FpuInstructions fpu;

    Interpreter(CpuState s, Decoder dec, Mmu mmu, Bus ports, Stack stack, Descriptors desc, Interrupts irq,
                TimeStampCounter tsc, FpuUnit fpuUnit, int apicId, int cpuCount) {
        this.s = s;
        this.dec = dec;
        PortIo io = new PortIo(s, mmu, ports);
        this.fpu = new FpuInstructions(dec, s, mmu, fpuUnit);
        this.arith = new ArithmeticInstructions(dec, s, mmu);
        this.shifts = new ShiftInstructions(dec, s);
        this.bits = new BitInstructions(dec, s);
        this.pauseLoop = new PauseLoopExit(cpuCount);
        this.moves = new MoveInstructions(dec, s, mmu, desc, pauseLoop);
        this.strings = new StringInstructions(dec, s, mmu, io);
        this.control = new ControlInstructions(dec, s, mmu, stack, desc, irq);
        this.system = new SystemInstructions(dec, s, mmu, desc, irq, io, tsc, fpu, apicId, cpuCount);
    }

    /** Decodes and executes the instruction at RIP; RIP then points past it (or where it jumped). */
    void step() {
        int op = dec.decodeOpcode(s.rip);
        if (op >= 0x100) twoByte(op & 0xFF);
        else oneByte(op);
        s.rip = dec.ip & dec.ipMask;
    }

    /** Executes a decoded instruction: its prefixes and code bytes restored, straight to its family. */
    void replay(DecodedInsn d) {
        dec.restore(d);
        if (d.twoByte) twoByte(d.opcode);
        else oneByte(d.opcode);
        s.rip = dec.ip & dec.ipMask;
    }

    private void oneByte(int op) {
        if (op < 0x40 && (op & 7) < 6) {
            arith.aluForm(op);
            return;
        }
        switch (op) {
            case 0x27, 0x2F, 0x37, 0x3F, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F, 0x69, 0x6B, 0x80, 0x81,
                 0x82, 0x83, 0x84, 0x85, 0x98, 0x99, 0x9E, 0x9F, 0xA8, 0xA9, 0xD4, 0xD5,
                 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFC, 0xFD, 0xFE
                    -> arith.oneByte(op);
            case 0xC0, 0xC1, 0xD0, 0xD1, 0xD2, 0xD3
                    -> shifts.oneByte(op);
            case 0x63, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x8D, 0x8E, 0x90, 0x91,
                 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0xA0, 0xA1, 0xA2, 0xA3, 0xB0, 0xB1,
                 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xBB, 0xBC, 0xBD,
                 0xBE, 0xBF, 0xC4, 0xC5, 0xC6, 0xC7, 0xD7
                    -> moves.oneByte(op);
            case 0x6C, 0x6D, 0x6E, 0x6F, 0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD,
                 0xAE, 0xAF
                    -> strings.oneByte(op);
            case 0x06, 0x07, 0x0E, 0x16, 0x17, 0x1E, 0x1F, 0x50, 0x51, 0x52, 0x53, 0x54,
                 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x60,
                 0x61, 0x68, 0x6A, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78,
                 0x79, 0x7A, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F, 0x8F, 0x9A, 0x9C, 0x9D, 0xC2,
                 0xC3, 0xC8, 0xC9, 0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF, 0xE0, 0xE1, 0xE2,
                 0xE3, 0xE8, 0xE9, 0xEA, 0xEB, 0xF1, 0xFF
                    -> control.oneByte(op);
            case 0xE4, 0xE5, 0xE6, 0xE7, 0xEC, 0xED, 0xEE, 0xEF, 0xF4, 0xFA, 0xFB
                    -> system.oneByte(op);
            case 0x9B, 0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF
                    -> fpu.oneByte(op);
            default -> throw dec.undefined(op);
        }
    }

    private void twoByte(int op) {
        switch (op) {
            case 0xAF, 0xB0, 0xB1, 0xC0, 0xC1, 0xC7
                    -> arith.twoByte(op);
            case 0xA4, 0xA5, 0xAC, 0xAD
                    -> shifts.twoByte(op);
            case 0xA3, 0xAB, 0xB3, 0xB8, 0xBA, 0xBB, 0xBC, 0xBD, 0xC8, 0xC9, 0xCA, 0xCB,
                 0xCC, 0xCD, 0xCE, 0xCF
                    -> bits.twoByte(op);
            case 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B,
                 0x4C, 0x4D, 0x4E, 0x4F, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
                 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xB2, 0xB4, 0xB5, 0xB6,
                 0xB7, 0xBE, 0xBF, 0xC3
                    -> moves.twoByte(op);
            case 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B,
                 0x8C, 0x8D, 0x8E, 0x8F, 0xA0, 0xA1, 0xA8, 0xA9
                    -> control.twoByte(op);
            case 0x00, 0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0B, 0x0D, 0x18,
                 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x30,
                 0x31, 0x32, 0xA2, 0xAE
                    -> system.twoByte(op);
            case 0x38, 0x3A
                    -> fpu.twoByte(op);
            default -> fpu.twoByte(op); // the SIMD opcodes, or #UD
        }
    }
}
