package dev.flint.devices.nvme;

/**
 * Numbers from the NVM Express Base Specification 1.4 that more than one class of this package needs:
 * register offsets, opcodes and status codes. Facts, not behaviour.
 */
final class NvmeSpec {
    private NvmeSpec() {}

    /** Version 1.4.0: the namespace write-protect attribute (NSATTR) Linux honours is from 1.4. */
    static final int VERSION = 0x0001_0400;
    /** Memory page size: CC.MPS 0, the only one CAP offers (MPSMIN = MPSMAX = 0). */
    static final int PAGE = 4096;
    static final int SQ_ENTRY = 64, CQ_ENTRY = 16;
    /** CC.IOSQES / IOCQES: log2 of the only entry sizes this controller takes. */
    static final int SQ_ENTRY_LOG = 6, CQ_ENTRY_LOG = 4;
    /** Largest queue (entries) a driver may create: CAP.MQES + 1. */
    static final int MAX_QUEUE_ENTRIES = 1024;
    /** MDTS as a power of two of PAGE: 256 pages, 1 MiB per Read or Write. */
    static final int MDTS = 8;
    static final long MAX_TRANSFER = (long) PAGE << MDTS;
    static final int LBA_SIZE = 512, LBA_SHIFT = 9;
    /** Highest namespace ID (Identify Controller NN); namespaces take 1..this. */
    static final int MAX_NAMESPACES = 256;
    /** Outstanding Asynchronous Event Requests a driver may post (AERL + 1). */
    static final int AER_LIMIT = 4;

    // Controller registers (BAR0).
    static final int REG_CAP = 0x00, REG_VS = 0x08, REG_INTMS = 0x0C, REG_INTMC = 0x10, REG_CC = 0x14,
            REG_CSTS = 0x1C, REG_NSSR = 0x20, REG_AQA = 0x24, REG_ASQ = 0x28, REG_ACQ = 0x30;
    static final int DOORBELLS = 0x1000;
    static final int CC_EN = 1, CSTS_RDY = 1, CSTS_CFS = 2;
    static final int SHST_NORMAL = 0, SHST_OCCURRING = 1, SHST_COMPLETE = 2;

    // Admin opcodes.
    static final int ADMIN_DELETE_SQ = 0x00, ADMIN_CREATE_SQ = 0x01, ADMIN_GET_LOG_PAGE = 0x02, ADMIN_DELETE_CQ = 0x04,
            ADMIN_CREATE_CQ = 0x05, ADMIN_IDENTIFY = 0x06, ADMIN_ABORT = 0x08, ADMIN_SET_FEATURES = 0x09,
            ADMIN_GET_FEATURES = 0x0A, ADMIN_ASYNC_EVENT = 0x0C, ADMIN_DOORBELL_BUFFER_CONFIG = 0x7C;
    // NVM (I/O) opcodes.
    static final int IO_FLUSH = 0x00, IO_WRITE = 0x01, IO_READ = 0x02, IO_WRITE_ZEROES = 0x08, IO_DSM = 0x09;

    // Identify CNS values.
    static final int CNS_NAMESPACE = 0x00, CNS_CONTROLLER = 0x01, CNS_ACTIVE_NAMESPACES = 0x02,
            CNS_NAMESPACE_DESCRIPTORS = 0x03, CNS_CSI_CONTROLLER = 0x06;

    // Log pages.
    static final int LOG_ERROR = 0x01, LOG_SMART = 0x02, LOG_FIRMWARE_SLOT = 0x03, LOG_CHANGED_NAMESPACES = 0x04;

    // Features.
    static final int FEAT_ARBITRATION = 0x01, FEAT_POWER = 0x02, FEAT_TEMPERATURE = 0x04, FEAT_ERROR_RECOVERY = 0x05,
            FEAT_WRITE_CACHE = 0x06, FEAT_QUEUES = 0x07, FEAT_IRQ_COALESCING = 0x08, FEAT_IRQ_CONFIG = 0x09,
            FEAT_WRITE_ATOMICITY = 0x0A, FEAT_ASYNC_EVENTS = 0x0B;
    /** Async Event Configuration bit: Namespace Attribute Notices. */
    static final int AEN_NAMESPACE_ATTRIBUTE = 1 << 8;
    /** Completion dword 0 of that event: type Notice (2), info Namespace Attribute Changed (0), log page 4. */
    static final int EVENT_NAMESPACE_CHANGED = 2 | (0x00 << 8) | (LOG_CHANGED_NAMESPACES << 16);

    /**
     * A completion status: bits 7:0 the status code, 10:8 the status code type, bit 14 Do Not Retry
     * (told to the driver for requests that cannot succeed however often they are sent).
     */
    static final int SUCCESS = 0;
    static final int DNR = 1 << 14;
    static final int SC_INVALID_OPCODE = 0x01 | DNR, SC_INVALID_FIELD = 0x02 | DNR, SC_COMMAND_ID_CONFLICT = 0x03,
            SC_DATA_TRANSFER_ERROR = 0x04, SC_INTERNAL_ERROR = 0x06, SC_ABORTED_SQ_DELETED = 0x08,
            SC_INVALID_NAMESPACE = 0x0B | DNR, SC_SEQUENCE_ERROR = 0x0C | DNR, SC_INVALID_PRP_OFFSET = 0x13 | DNR,
            SC_WRITE_PROTECTED = 0x20 | DNR, SC_LBA_OUT_OF_RANGE = 0x80 | DNR;
    private static final int SPECIFIC = 1 << 8, MEDIA = 2 << 8;
    /** Media errors: the host file failed a write or a read. */
    static final int SC_WRITE_FAULT = MEDIA | 0x80, SC_READ_ERROR = MEDIA | 0x81;
    static final int SC_INVALID_CQ = SPECIFIC | 0x00 | DNR, SC_INVALID_QUEUE_ID = SPECIFIC | 0x01 | DNR,
            SC_INVALID_QUEUE_SIZE = SPECIFIC | 0x02 | DNR, SC_ABORT_LIMIT = SPECIFIC | 0x03,
            SC_AER_LIMIT = SPECIFIC | 0x05 | DNR, SC_INVALID_VECTOR = SPECIFIC | 0x08 | DNR,
            SC_INVALID_LOG_PAGE = SPECIFIC | 0x09 | DNR, SC_INVALID_QUEUE_DELETION = SPECIFIC | 0x0C | DNR,
            SC_NOT_SAVEABLE = SPECIFIC | 0x0D | DNR;
    /** Not a status: the command completes later (an Asynchronous Event Request). */
    static final int DEFERRED = -1;
}
