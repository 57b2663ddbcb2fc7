/*
 * SSDT of the harness's vmclock device: the page at guest-physical
 * 0x1f000000 (one 4 KiB page, kept out of the guest's RAM by the kernel
 * argument memmap=12K$0x1f000000; the second page is the harness mailbox,
 * the third the simulator's truth page for the probe, both deliberately
 * not described here). Same _HID/_CID as Linux's
 * ptp_vmclock expects; _CRS holds exactly one memory descriptor.
 */
DefinitionBlock ("vmclock.aml", "SSDT", 2, "VMCLK", "VMCLOCK", 0x00000001)
{
	Scope (\_SB)
	{
		Device (VCLK)
		{
			Name (_HID, "AMZNC10C")
			Name (_CID, "VMCLOCK")
			Name (_UID, Zero)
			Name (_CRS, ResourceTemplate ()
			{
				QWordMemory (ResourceConsumer, PosDecode, MinFixed,
					MaxFixed, Cacheable, ReadWrite,
					0x0000000000000000,	// granularity
					0x000000001F000000,	// min
					0x000000001F000FFF,	// max
					0x0000000000000000,	// translation
					0x0000000000001000,	// length
					,, , AddressRangeMemory, TypeStatic)
			})
			Method (_STA, 0, NotSerialized)
			{
				Return (0x0F)
			}
		}
	}
}
