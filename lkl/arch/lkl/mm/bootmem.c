// SPDX-License-Identifier: GPL-2.0
/*
 * Memory: the kernel's "physical" memory is one block the host library
 * maps for it at boot; it is handed to memblock and then to the page
 * allocator, and unmapped again by lkl_cleanup().
 */
#include <linux/memblock.h>
#include <linux/mm.h>
#include <linux/pfn.h>
#include <asm/host_ops.h>
#include <asm/setup.h>

unsigned long memory_start, memory_end;
void *empty_zero_page;

static void *host_block;
static unsigned long host_block_size;

void __init bootmem_init(unsigned long mem_size)
{
	/* Align to the largest buddy block so no zone starts mid-block. */
	unsigned long align = PAGE_SIZE << MAX_PAGE_ORDER;
	unsigned long max_zone_pfns[MAX_NR_ZONES] = { 0 };

	mem_size = ALIGN(mem_size, align);
	host_block_size = mem_size + align;
	host_block = lkl_ops->page_alloc(host_block_size);
	if (!host_block)
		panic("lkl: cannot allocate %lu bytes of kernel memory\n",
		      host_block_size);

	memory_start = ALIGN((unsigned long)host_block, align);
	memory_end = memory_start + mem_size;

	min_low_pfn = PFN_DOWN(memory_start);
	max_low_pfn = PFN_DOWN(memory_end);
	max_pfn = max_low_pfn;
	set_max_mapnr(max_low_pfn - min_low_pfn);

	memblock_add(memory_start, mem_size);

	empty_zero_page = memblock_alloc(PAGE_SIZE, PAGE_SIZE);
	if (!empty_zero_page)
		panic("lkl: cannot allocate the zero page\n");

	max_zone_pfns[ZONE_NORMAL] = max_low_pfn;
	free_area_init(max_zone_pfns);
}

void __init mem_init(void)
{
	memblock_free_all();
}

/* __init code and data belong to the host program's image: keep them. */
void free_initmem(void)
{
}

void lkl_free_memory(void)
{
	if (host_block)
		lkl_ops->page_free(host_block, host_block_size);
	host_block = NULL;
}
