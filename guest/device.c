// SPDX-License-Identifier: GPL-2.0
/*
 * Finding the vmclock region through firmware, and reading its page.
 *
 * The module never binds the device: on kernels with ptp_vmclock that
 * driver owns it, and two drivers cannot bind one device. Reading the
 * firmware description and mapping the (unclaimed, read-only for us)
 * page works the same whether or not another driver is bound.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/acpi.h>
#include <linux/mod_devicetable.h>
#include <linux/module.h>
#include <linux/of.h>
#include <linux/of_address.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

#include "vmclock_abi.h"
#include "vmclock_discipline.h"

/*
 * The ids vmclock devices are published under, in order of preference.
 * The tables also give the module its aliases: udev loads it when the
 * firmware describes such a device, though it binds none.
 */
static const struct acpi_device_id vmcd_acpi_ids[] = {
	{ "VMCLOCK" },
	{ "AMZNC10C" },
	{ "QEMUVCLK" },
	{ }
};
MODULE_DEVICE_TABLE(acpi, vmcd_acpi_ids);

static const struct of_device_id vmcd_of_ids[] = {
	{ .compatible = "amazon,vmclock" },
	{ }
};
MODULE_DEVICE_TABLE(of, vmcd_of_ids);

#ifdef CONFIG_ACPI

/* Exactly one memory resource, as ptp_vmclock requires. */
static int vmcd_acpi_region(struct acpi_device *adev, struct vmcd_region *r)
{
	struct resource_entry *entry;
	LIST_HEAD(list);
	int n = 0, ret;

	ret = acpi_dev_get_resources(adev, &list, NULL, NULL);
	if (ret < 0)
		return ret;
	list_for_each_entry(entry, &list, node) {
		if (resource_type(entry->res) == IORESOURCE_MEM && !n++)
			r->res = *entry->res;
		else
			n = -1;
		if (n < 0)
			break;
	}
	acpi_dev_free_resource_list(&list);
	if (n != 1) {
		pr_err("%s: _CRS must hold exactly one memory range\n",
		       dev_name(&adev->dev));
		return -EINVAL;
	}
	strscpy(r->name, dev_name(&adev->dev), sizeof(r->name));
	return 0;
}

/* The @index-th distinct ACPI vmclock device; -ENODEV past the last. */
static int vmcd_find_acpi(unsigned int *index, struct vmcd_region *r)
{
	struct acpi_device *seen[8], *adev;
	unsigned int nseen = 0, i, j;
	int ret = -ENODEV;

	for (i = 0; vmcd_acpi_ids[i].id[0] && ret == -ENODEV; i++) {
		for_each_acpi_dev_match(adev, vmcd_acpi_ids[i].id, NULL, -1) {
			for (j = 0; j < nseen && seen[j] != adev; j++)
				;
			if (j < nseen)
				continue;
			if (nseen < ARRAY_SIZE(seen))
				seen[nseen++] = adev;
			if ((*index)--)
				continue;
			ret = vmcd_acpi_region(adev, r);
			acpi_dev_put(adev);
			break;
		}
	}
	return ret;
}
#else
static int vmcd_find_acpi(unsigned int *index, struct vmcd_region *r)
{
	return -ENODEV;
}
#endif

#ifdef CONFIG_OF
static int vmcd_find_of(unsigned int *index, struct vmcd_region *r)
{
	struct device_node *np;
	int ret = -ENODEV;

	for_each_compatible_node(np, NULL, vmcd_of_ids[0].compatible) {
		if ((*index)--)
			continue;
		ret = of_address_to_resource(np, 0, &r->res);
		if (!ret)
			snprintf(r->name, sizeof(r->name), "%pOFn", np);
		of_node_put(np);
		break;
	}
	return ret;
}
#else
static int vmcd_find_of(unsigned int *index, struct vmcd_region *r)
{
	return -ENODEV;
}
#endif

int vmcd_find_region(unsigned int index, struct vmcd_region *region)
{
	int ret;

	ret = vmcd_find_acpi(&index, region);
	if (ret == -ENODEV)
		ret = vmcd_find_of(&index, region);
	return ret;
}

int vmcd_page_read(const struct vmclock_abi *page, u32 size,
		   struct vmclock_abi *copy, void (*sample)(void *arg),
		   void *arg)
{
	size_t len = min_t(size_t, size, sizeof(*copy));
	u64 deadline = ktime_get_mono_fast_ns() + VMCD_PAGE_READ_MAX_NS;
	u32 seq;

	memset(copy, 0, sizeof(*copy));
	do {
		seq = le32_to_cpu(READ_ONCE(page->seq_count));
		if (seq & 1) {
			/* every caller is in process context */
			cond_resched();
			continue;
		}
		virt_rmb();	/* fields after the even seq_count */
		memcpy(copy, page, len);
		if (sample)
			sample(arg);
		virt_rmb();	/* fields before seq_count again */
		if (le32_to_cpu(READ_ONCE(page->seq_count)) == seq)
			return 0;
		cond_resched();
	} while (ktime_get_mono_fast_ns() < deadline);
	return -ETIMEDOUT;
}
